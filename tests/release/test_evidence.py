"""The evidence bundle of a release: exported by port security, verified offline."""

import hashlib
import json
from typing import Any

import pytest
from sqlmodel import col, select

from services.cli import app as cli
from services.identity.parties import service as parties
from services.release.evidence.verify import MEDIA_TYPE, EvidenceFailed
from shared import jose
from shared.audit.models import AuditEvent
from shared.credentials import token_sha256
from shared.db import transaction
from shared.models import utcnow
from tests.audit_helpers import integrate_all
from tests.helpers import assert_problem, invoke_cli
from tests.release.chains import accept, create_release, hand_over, ok
from tests.release.evidence_bundles import anchors, edited, export, picked_up
from tests.release.port import Port, access_log


async def logged(port: Port, event_type: str) -> list[dict[str, object]]:
    """The release service's events of one type, oldest first."""
    async with transaction(port.release.state.sessions) as session:
        texts = (
            await session.exec(
                select(AuditEvent.event)
                .where(col(AuditEvent.event_type) == event_type)
                .order_by(col(AuditEvent.id))
            )
        ).all()
    return [json.loads(text) for text in texts]


async def test_the_bundle_of_a_picked_up_container_verifies_offline(port: Port) -> None:
    chain = await picked_up(port)
    bundle = await export(port, chain)
    report = (await anchors(port)).verify(bundle)
    assert chain.driver is not None
    assert report.chain is not None and report.chain.driver == str(chain.driver.id)
    assert report.skipped == []
    checks = [line.split(":")[0] for line in report.passed]
    for check in ("format", "checkpoint", "events", "identity keys", "status lists"):
        assert check in checks
    for check in ("credentials", "release", "links", "chain", "draws", "gate"):
        assert check in checks
    document = json.loads(bundle)
    assert [json.loads(e["event"])["type"] for e in document["events"]][-2:] == [
        "gate.decided",
        "gate.completed",
    ]
    assert len(document["links"]) == 5 and len(document["draws"]) == 1


async def test_the_bundle_is_one_canonical_attachment_of_its_own_media_type(port: Port) -> None:
    chain = await picked_up(port)
    await integrate_all(port.release)
    response = await port.client.get(
        f"/v1/releases/{chain.release_id}/evidence", headers=port["security"].headers
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == MEDIA_TYPE
    disposition = response.headers["content-disposition"]
    assert disposition == f'attachment; filename="evidence-{chain.release_id}.json"'
    assert response.headers["cache-control"] == "no-store"


async def test_the_export_is_logged_naming_who_exported_which_file(port: Port) -> None:
    chain = await picked_up(port)
    bundle = await export(port, chain)
    exported = await logged(port, "evidence.exported")
    assert len(exported) == 1
    event = exported[0]
    assert event["release_id"] == str(chain.release_id)
    assert event["party_id"] == port["security"].id
    assert event["bundle_sha256"] == hashlib.sha256(bundle).hexdigest()
    reads = [e for e in await access_log(port.release) if e.action == "evidence.export"]
    assert [(r.release_id, r.outcome, r.party_id) for r in reads] == [
        (chain.release_id, "shown", port["security"].id)
    ]


async def test_a_later_bundle_holds_the_earlier_export(port: Port) -> None:
    chain = await picked_up(port)
    await export(port, chain)
    second = await export(port, chain)
    types = [json.loads(e["event"])["type"] for e in json.loads(second)["events"]]
    assert types[-1] == "evidence.exported"
    (await anchors(port)).verify(second)


async def test_an_open_chain_verifies_and_says_it_is_incomplete(port: Port) -> None:
    chain = await create_release(port)
    report = (await anchors(port)).verify(await export(port, chain))
    assert report.chain is not None and report.chain.driver is None
    assert any(line.endswith("incomplete") for line in report.passed)


async def test_without_the_inspection_key_the_draws_proofs_are_reported_skipped(
    port: Port,
) -> None:
    chain = await picked_up(port)
    trusted = await anchors(port)
    trusted.inspection_keys = []
    report = trusted.verify(await export(port, chain))
    assert report.skipped == ["draws: the VRF proofs (no --inspection-key given)"]


async def test_events_not_yet_under_a_checkpoint_make_the_export_wait(port: Port) -> None:
    chain = await picked_up(port)  # the sequencer (off in tests) has not run since
    response = await port.client.get(
        f"/v1/releases/{chain.release_id}/evidence", headers=port["security"].headers
    )
    assert assert_problem(response, 409, "evidence_not_sequenced")["retry_after"] == 1
    assert await logged(port, "evidence.exported") == []
    reads = [e.outcome for e in await access_log(port.release) if e.action == "evidence.export"]
    assert reads == ["not_sequenced"]


async def test_an_unknown_release_is_404_and_recorded(port: Port) -> None:
    path = "/v1/releases/00000000-0000-4000-8000-000000000000/evidence"
    response = await port.client.get(path, headers=port["security"].headers)
    assert_problem(response, 404, "release_not_found")
    reads = [e.outcome for e in await access_log(port.release) if e.action == "evidence.export"]
    assert reads == ["not_found"]


async def test_a_malformed_release_id_is_a_422_problem(port: Port) -> None:
    response = await port.client.get(
        "/v1/releases/not-a-uuid/evidence", headers=port["security"].headers
    )
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_the_route_documents_its_media_type_and_problems(port: Port) -> None:
    operation = port.release.openapi()["paths"]["/v1/releases/{release_id}/evidence"]["get"]
    responses = operation["responses"]
    assert set(responses["200"]["content"]) == {MEDIA_TYPE}
    assert {int(s) for s in responses if s[0] in "45"} == {401, 403, 404, 409, 422, 503}
    assert "evidence_not_sequenced" in operation["description"]


async def test_the_command_line_prints_each_check_and_fails_naming_the_first(
    port: Port, tmp_path: object
) -> None:
    from pathlib import Path

    folder = Path(str(tmp_path))
    chain = await picked_up(port)
    bundle = await export(port, chain)
    trusted = await anchors(port)
    (folder / "bundle.json").write_bytes(bundle)
    (folder / "jwks.json").write_bytes(trusted.identity_jwks)
    (folder / "vrf.json").write_bytes(trusted.inspection_keys[0])
    args = [
        "evidence",
        "verify",
        str(folder / "bundle.json"),
        "--log-key",
        trusted.log_key,
        "--identity-jwks",
        str(folder / "jwks.json"),
        "--inspection-key",
        str(folder / "vrf.json"),
    ]
    result = await invoke_cli(cli, args)
    assert result.exit_code == 0, result.output
    assert "ok       chain: verified" in result.output
    assert result.output.rstrip().endswith("VERIFIED")

    altered = bytearray(bundle)
    altered[len(altered) // 2] ^= 1
    (folder / "bundle.json").write_bytes(bytes(altered))
    result = await invoke_cli(cli, args)
    assert result.exit_code == 1
    assert "FAILED" in result.output


async def test_declined_and_withdrawn_links_are_kept_and_checked(port: Port) -> None:
    chain = await create_release(port, to="forwarder")
    await accept(port, chain, 0, "forwarder")
    base = f"/v1/releases/{chain.release_id}/links"
    await hand_over(port, chain, "forwarder", "carrier")
    ok(await port.client.post(f"{base}/1/decline", headers=port["carrier"].headers))
    chain.links.pop()
    await hand_over(port, chain, "forwarder", "forwarder2")
    await accept(port, chain, 1, "forwarder2")
    await hand_over(port, chain, "forwarder2", "sub")
    ok(await port.client.post(f"{base}/2/withdraw", headers=port["forwarder2"].headers))
    chain.links.pop()
    await hand_over(port, chain, "forwarder2", "carrier")
    bundle = await export(port, chain)
    report = (await anchors(port)).verify(bundle)
    assert report.chain is not None and len(report.chain.links) == 3
    assert any("3 live and 2 declined or withdrawn links" in line for line in report.passed)
    assert len(json.loads(bundle)["links"]) == 5


async def test_a_cancelled_release_verifies_with_no_live_chain(port: Port) -> None:
    chain = await create_release(port)
    await accept(port, chain, 0, "forwarder")
    ok(
        await port.client.post(
            f"/v1/releases/{chain.release_id}/cancel", headers=port["line"].headers
        )
    )
    report = (await anchors(port)).verify(await export(port, chain))
    assert "chain: none live, the release was cancelled" in report.passed


async def test_without_the_identity_service_the_export_is_503_and_recorded(port: Port) -> None:
    chain = await picked_up(port)
    await integrate_all(port.release)
    path = f"/v1/releases/{chain.release_id}/evidence"
    await port.client.get(path, headers=port["security"].headers)  # the caller is cached
    await integrate_all(port.release)
    port.identity_line.up = False
    response = await port.client.get(path, headers=port["security"].headers)
    assert_problem(response, 503, "identity_unavailable")
    outcomes = [e.outcome for e in await access_log(port.release) if e.action == "evidence.export"]
    assert outcomes == ["shown", "failed"]
    assert len(await logged(port, "evidence.exported")) == 1


async def revoked_after_pickup(port: Port) -> tuple[bytes, dict[str, Any]]:
    """The bundle of a container picked up, exported after the forwarder was revoked; and the
    gate's decision as logged."""
    chain = await picked_up(port)
    async with transaction(port.identity.state.sessions) as session:
        await parties.revoke_party(
            session, party_id=port["forwarder"].id, actor="test", now=utcnow()
        )
    bundle = await export(port, chain)
    (decided,) = await logged(port, "gate.decided")
    return bundle, decided


async def test_a_party_revoked_after_the_pickup_leaves_the_bundle_valid_as_judged(
    port: Port,
) -> None:
    bundle, decided = await revoked_after_pickup(port)
    document = json.loads(bundle)
    judged = document["judged_status_lists"]
    named = decided["status_lists"]
    assert isinstance(named, list) and named
    assert sorted(token_sha256(token) for token in judged) == sorted(named)
    # The lists fetched at the export say revoked; the gate judged with the earlier ones.
    assert set(judged) != set(document["status_lists"])
    report = (await anchors(port)).verify(bundle)
    assert report.chain is not None and report.chain.failure is None
    assert any(
        line.startswith("chain:") and "statuses as the gate judged them" in line
        for line in report.passed
    ), report.passed
    assert any(line.startswith("judged status lists:") for line in report.passed)


async def test_a_judged_status_list_swapped_for_a_later_one_fails(port: Port) -> None:
    bundle, _ = await revoked_after_pickup(port)
    reader = await anchors(port)

    def swap(document: dict[str, Any]) -> None:
        later = {_uri(token): token for token in document["status_lists"]}
        document["judged_status_lists"] = sorted(
            later[_uri(token)] for token in document["judged_status_lists"]
        )

    with pytest.raises(EvidenceFailed) as failed:
        reader.verify(edited(bundle, swap))
    assert failed.value.check == "judged status lists"
    assert "is not in the bundle" in failed.value.reason


async def test_a_bundle_without_the_judged_lists_fails_even_as_version_1(port: Port) -> None:
    bundle, _ = await revoked_after_pickup(port)
    reader = await anchors(port)

    def drop(document: dict[str, Any]) -> None:
        del document["judged_status_lists"]

    with pytest.raises(EvidenceFailed) as failed:
        reader.verify(edited(bundle, drop))
    assert failed.value.check == "format"

    def downgrade(document: dict[str, Any]) -> None:
        drop(document)
        document["v"] = 1

    # The logged decision names its lists: a version 1 bundle cannot hide them.
    with pytest.raises(EvidenceFailed) as failed:
        reader.verify(edited(bundle, downgrade))
    assert failed.value.check == "judged status lists"


def _uri(token: str) -> str:
    _, claims = jose.peek(token)
    return str(claims["sub"])
