"""Handing over, assigning, accepting, declining and withdrawing; and every attack on the chain
refused with its reason, changing nothing."""

import time
import uuid
from typing import Any

import httpx
import pytest

from services.identity.people.models import Person
from shared import jose
from tests.conftest import SettingsFactory
from tests.helpers import assert_problem, b64url_json
from tests.identity.factories import add_own_key, make_person
from tests.release.chains import (
    Chain,
    accept,
    ask_gate,
    create_release,
    full_chain,
    gate_pass,
    hand_over,
    link_jws,
    ok,
)
from tests.release.port import (
    Port,
    audit_types,
    issue_credential,
    make_port,
    sign_ack,
    sign_link,
    unchanged,
)


async def held_by(port: Port, holder: str = "carrier") -> Chain:
    """A release handed over to `holder` through the forwarder, everything accepted."""
    chain = await create_release(port)
    await accept(port, chain, 0, "forwarder")
    seq = await hand_over(port, chain, "forwarder", holder)
    await accept(port, chain, seq, holder)
    return chain


def next_link(port: Port, chain: Chain, sender: str, **claims: Any) -> str:
    """The link `sender` would sign next, with some claims changed."""
    body: dict[str, Any] = {
        "release_id": str(chain.release_id),
        "container": chain.container,
        "seq": len(chain.links),
        "kind": "handover",
        "to": port["sub"].id,
        "prev": chain.links[-1],
        **claims,
    }
    return sign_link(port[sender], **body)


async def post_link(port: Port, chain: Chain, link: str, sender: str = "carrier") -> httpx.Response:
    return await port.client.post(
        f"/v1/releases/{chain.release_id}/links", json={"link": link}, headers=port[sender].headers
    )


def tampered(jws: str, **changes: Any) -> str:
    """The JWS with its payload edited and the original signature kept."""
    header, _payload, signature = jws.split(".")
    _, claims = jose.peek(jws)
    return f"{header}.{b64url_json({**claims, **changes})}.{signature}"


def with_header(jws: str, **changes: Any) -> str:
    """The JWS with its header edited (alg `none`, HMAC …) and the original signature kept."""
    _header, payload, signature = jws.split(".")
    members, _ = jose.peek(jws)
    return f"{b64url_json({**members, **changes})}.{payload}.{signature}"


@pytest.mark.parametrize(
    ("attack", "code"),
    [
        ("forged_by_outsider", "link_key_unknown"),
        ("retargeted", "link_bad_signature"),
        ("wrong_prev", "link_prev_mismatch"),
        ("reordered", "link_wrong_seq"),
        ("other_release", "link_wrong_release"),
        ("other_container", "link_wrong_container"),
        ("expired", "link_expired"),
        ("to_a_terminal", "receiver_wrong_role"),
        ("unknown_kind", "link_wrong_kind"),
        ("alg_none", "token_alg_refused"),
        ("alg_hs256", "token_alg_refused"),
    ],
)
async def test_attacks_on_a_handover_are_refused_with_their_reason(
    port: Port, attack: str, code: str
) -> None:
    chain = await held_by(port)
    other = await held_by(port)
    now = int(time.time())
    good = next_link(port, chain, "carrier")
    link = {
        "forged_by_outsider": lambda: sign_link(
            port["other_carrier"],
            **{"from": port["carrier"].id},
            release_id=str(chain.release_id),
            container=chain.container,
            seq=2,
            kind="handover",
            to=port["sub"].id,
            prev=chain.links[-1],
        ),
        "retargeted": lambda: tampered(good, to=port["other_carrier"].id),
        "wrong_prev": lambda: next_link(port, chain, "carrier", prev=other.links[-1]),
        "reordered": lambda: next_link(port, chain, "carrier", seq=5),
        "other_release": lambda: next_link(port, other, "carrier", seq=2, prev=chain.links[-1]),
        "other_container": lambda: next_link(port, chain, "carrier", container=other.container),
        # Signed just before it was sent (a backdated iat is refused on its own), yet expired.
        "expired": lambda: next_link(port, chain, "carrier", iat=now - 100, exp=now - 40),
        "to_a_terminal": lambda: next_link(port, chain, "carrier", to=port["terminal"].id),
        "unknown_kind": lambda: next_link(port, chain, "carrier", kind="gift"),
        "alg_none": lambda: with_header(good, alg="none"),
        "alg_hs256": lambda: with_header(good, alg="HS256"),
    }[attack]()
    async with unchanged(port.release):
        response = await post_link(port, chain, link)
    body = assert_problem(response, 422, code)
    assert body["seq"] == 2


async def test_a_replayed_link_is_refused(port: Port) -> None:
    chain = await held_by(port)
    link = next_link(port, chain, "carrier")
    ok(await post_link(port, chain, link), 201)
    ok(
        await port.client.post(
            f"/v1/releases/{chain.release_id}/links/2/decline", headers=port["sub"].headers
        )
    )
    async with unchanged(port.release):
        replay = await post_link(port, chain, link)
    assert_problem(replay, 409, "link_replayed")


async def test_only_the_holder_passes_the_release_on(port: Port) -> None:
    chain = await held_by(port)
    path = f"/v1/releases/{chain.release_id}/links"
    body = {"kind": "handover", "to": port["sub"].id}
    async with unchanged(port.release):
        by_forwarder = await port.client.post(
            path, json=body, headers=await port.person_headers("forwarder")
        )
        by_outsider = await port.client.post(
            path, json=body, headers=await port.person_headers("other_carrier")
        )
        by_line = await port.client.post(path, json=body, headers=await port.person_headers("line"))
    assert_problem(by_forwarder, 403, "not_holder")
    assert_problem(by_outsider, 404, "release_not_found")
    assert_problem(by_line, 403, "role_required")


async def test_nothing_is_passed_on_before_the_receiver_accepts(port: Port) -> None:
    chain = await create_release(port)
    async with unchanged(port.release):
        response = await port.client.post(
            f"/v1/releases/{chain.release_id}/links",
            json={"kind": "handover", "to": port["carrier"].id},
            headers=await port.person_headers("forwarder"),
        )
    assert_problem(response, 409, "link_pending")


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({}, "invalid_request"),
        ({"kind": "handover"}, "invalid_request"),
        ({"kind": "gift", "to": "x"}, "invalid_request"),
        ({"link": "a.b.c", "kind": "handover", "to": "x"}, "invalid_request"),
        ({"link": "not a jws"}, "token_malformed"),
        ({"link": 7}, "invalid_request"),
    ],
)
async def test_malformed_link_bodies_are_refused(
    port: Port, body: dict[str, Any], code: str
) -> None:
    chain = await held_by(port)
    async with unchanged(port.release):
        response = await port.client.post(
            f"/v1/releases/{chain.release_id}/links", json=body, headers=port["carrier"].headers
        )
    assert_problem(response, 422, code)


async def test_unknown_release_and_link_are_404(port: Port) -> None:
    chain = await held_by(port)
    unknown = await port.client.post(
        f"/v1/releases/{uuid.uuid4()}/links/0/accept", headers=port["carrier"].headers
    )
    assert_problem(unknown, 404, "release_not_found")
    no_link = await port.client.post(
        f"/v1/releases/{chain.release_id}/links/9/accept", headers=port["carrier"].headers
    )
    assert_problem(no_link, 404, "link_not_found")
    not_uuid = await port.client.get("/v1/releases/nope", headers=port["carrier"].headers)
    assert_problem(not_uuid, 422, "invalid_request")


async def test_acceptance_is_for_the_receiver_with_an_ack_of_that_link(port: Port) -> None:
    chain = await create_release(port)
    link = await link_jws(port, chain, 0, "forwarder")
    path = f"/v1/releases/{chain.release_id}/links/0/accept"
    other = await create_release(port)
    other_link = await link_jws(port, other, 0, "forwarder")
    async with unchanged(port.release):
        not_receiver = await port.client.post(
            path,
            json={"ack": sign_ack(port["forwarder2"], link)},
            headers=port["forwarder2"].headers,
        )
        wrong_link = await port.client.post(
            path,
            json={"ack": sign_ack(port["forwarder"], other_link)},
            headers=port["forwarder"].headers,
        )
        forged = await port.client.post(
            path,
            json={"ack": sign_ack(port["forwarder2"], link)},
            headers=port["forwarder"].headers,
        )
        client_without_ack = await port.client.post(path, headers=port["forwarder"].headers)
    assert not_receiver.status_code == 404  # forwarder2 is not in this chain
    assert_problem(wrong_link, 422, "ack_wrong_link")
    assert_problem(forged, 422, "ack_key_unknown")
    assert_problem(client_without_ack, 422, "ack_required")
    ok(
        await port.client.post(
            path, json={"ack": sign_ack(port["forwarder"], link)}, headers=port["forwarder"].headers
        )
    )
    twice = await port.client.post(
        path, json={"ack": sign_ack(port["forwarder"], link)}, headers=port["forwarder"].headers
    )
    assert_problem(twice, 409, "link_not_pending")


async def test_a_declined_link_can_be_made_again_to_someone_else(port: Port) -> None:
    chain = await create_release(port)
    await accept(port, chain, 0, "forwarder")
    await hand_over(port, chain, "forwarder", "carrier", custodial=True)
    ok(
        await port.client.post(
            f"/v1/releases/{chain.release_id}/links/1/decline",
            headers=await port.person_headers("carrier"),
        )
    )
    chain.links.pop()
    seq = await hand_over(port, chain, "forwarder", "other_carrier", custodial=True)
    assert seq == 1
    await accept(port, chain, seq, "other_carrier", custodial=True)
    view = ok(
        await port.client.get(f"/v1/releases/{chain.release_id}", headers=port["line"].headers)
    )
    assert view["holder"] == port["other_carrier"].id
    assert "link.declined" in await audit_types(port.release)


async def test_withdrawal_cascades_and_only_the_signer_withdraws(port: Port) -> None:
    chain = await held_by(port)
    # The subcontractor has not accepted yet: the next step is not completed.
    await hand_over(port, chain, "carrier", "sub")
    base = f"/v1/releases/{chain.release_id}/links"
    async with unchanged(port.release):
        by_other = await port.client.post(f"{base}/1/withdraw", headers=port["carrier"].headers)
        release_link = await port.client.post(
            f"{base}/0/withdraw", headers=port["forwarder"].headers
        )
    assert_problem(by_other, 403, "not_signer")
    assert_problem(release_link, 403, "not_signer")
    withdrawn = ok(await port.client.post(f"{base}/1/withdraw", headers=port["forwarder"].headers))
    assert withdrawn == {"withdrawn": [1, 2]}
    view = ok(
        await port.client.get(f"/v1/releases/{chain.release_id}", headers=port["forwarder"].headers)
    )
    assert view["holder"] == port["forwarder"].id
    assert [link["seq"] for link in view["links"]] == [0]
    gone = await port.client.get(f"/v1/releases/{chain.release_id}", headers=port["sub"].headers)
    assert_problem(gone, 404, "release_not_found")


async def test_no_withdrawal_once_the_gate_has_released(port: Port) -> None:
    chain = await full_chain(port, path=("forwarder", "carrier"))
    assert chain.driver is not None
    decision = await ask_gate(
        port, chain.container, gate_pass=await gate_pass(port, "carrier", chain.driver)
    )
    assert decision["decision"] == "release"
    async with unchanged(port.release):
        response = await port.client.post(
            f"/v1/releases/{chain.release_id}/links/1/withdraw", headers=port["forwarder"].headers
        )
    assert_problem(response, 409, "chain_used_at_gate")


async def assignment_to(
    port: Port, chain: Chain, driver: Person, sender: str = "carrier"
) -> httpx.Response:
    return await port.client.post(
        f"/v1/releases/{chain.release_id}/links",
        json={"kind": "assignment", "to": str(driver.id)},
        headers=await port.person_headers(sender),
    )


async def test_a_carrier_assigns_only_its_own_screened_active_drivers(port: Port) -> None:
    chain = await held_by(port)
    theirs = await port.driver("other_carrier")
    dispatcher = await make_person(port.identity, port["carrier"].party, "dispatcher")
    suspended = await port.driver("carrier", status="suspended")
    from datetime import date, timedelta

    unscreened = await port.driver("carrier", screened_until=date.today() - timedelta(days=1))
    async with unchanged(port.release):
        for person, code in [
            (theirs, "driver_not_of_party"),
            (dispatcher, "not_a_driver"),
            (suspended, "driver_suspended"),
            (unscreened, "screening_expired"),
        ]:
            assert_problem(await assignment_to(port, chain, person), 422, code)


async def test_a_forwarder_cannot_assign_a_driver(port: Port) -> None:
    chain = await create_release(port)
    await accept(port, chain, 0, "forwarder")
    driver = await port.driver("forwarder")
    async with unchanged(port.release):
        response = await assignment_to(port, chain, driver, sender="forwarder")
    # The identity service does not sign it for a forwarder's person (docs/design.md, Wire formats).
    assert_problem(response, 403, "signing_not_allowed")


async def test_only_the_assigned_driver_accepts_and_nothing_follows_an_assignment(
    port: Port,
) -> None:
    chain = await held_by(port)
    driver, colleague = await port.driver("carrier"), await port.driver("carrier")
    assignment = ok(await assignment_to(port, chain, driver), 201)
    accept_path = f"/v1/releases/{chain.release_id}/links/2/accept"
    async with unchanged(port.release):
        by_colleague = await port.client.post(
            accept_path, headers=await port.driver_headers("carrier", colleague)
        )
        by_dispatcher = await port.client.post(
            accept_path, headers=await port.person_headers("carrier")
        )
    assert by_colleague.status_code == 404  # not his assignment: he cannot even see it
    assert_problem(by_dispatcher, 403, "not_receiver")
    ok(
        await port.client.post(
            accept_path,
            json={"ack": port.device_ack(driver, assignment["link_hash"])},
            headers=await port.driver_headers("carrier", driver),
        )
    )
    async with unchanged(port.release):
        more = await port.client.post(
            f"/v1/releases/{chain.release_id}/links",
            json={"kind": "handover", "to": port["sub"].id},
            headers=await port.person_headers("carrier"),
        )
    assert_problem(more, 409, "chain_complete")


async def test_the_chain_length_limit_is_configurable(make_settings: SettingsFactory) -> None:
    async with make_port(make_settings, max_chain_links=3) as port:
        chain = await held_by(port)
        seq = await hand_over(port, chain, "carrier", "sub")
        await accept(port, chain, seq, "sub")
        driver = await port.driver("sub")
        async with unchanged(port.release):
            response = await assignment_to(port, chain, driver, sender="sub")
        assert_problem(response, 422, "chain_too_long")


async def test_a_key_certified_after_the_last_fetch_is_found(port: Port) -> None:
    chain = await held_by(port)  # the carrier's credentials are held by now
    new_key = await add_own_key(port.identity, port["carrier"].party)
    await issue_credential(port.identity, port["carrier"].party, jose.thumbprint(new_key))
    port["carrier"].key = new_key
    ok(await post_link(port, chain, next_link(port, chain, "carrier")), 201)
