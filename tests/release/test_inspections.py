"""Inspections at the gate: verifiable draws, selections that stick, outcomes by officers."""

import base64
from typing import Any

import rfc8785
from sqlalchemy import delete

from services.release.inspections.draws import NoCheckpoint, draw, u_of
from services.release.inspections.keys import DrawingKey
from services.release.inspections.models import Purpose
from shared import vrf
from shared.audit import repository as audit_log
from shared.audit.models import AuditCheckpoint
from shared.db import transaction
from shared.models import utcnow
from tests.conftest import SettingsFactory
from tests.helpers import assert_problem
from tests.release.chains import Chain, ask_gate, full_chain, gate_pass, ok
from tests.release.port import Port, make_port


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


async def ready(port: Port) -> Chain:
    chain = await full_chain(port, path=("forwarder", "carrier"))
    assert chain.driver is not None
    return chain


async def ask(port: Port, chain: Chain) -> dict[str, Any]:
    assert chain.driver is not None
    return await ask_gate(
        port, chain.container, gate_pass=await gate_pass(port, "carrier", chain.driver)
    )


async def draws(port: Port) -> list[dict[str, Any]]:
    response = await port.client.get(
        "/v1/inspections/draws",
        params={"since": "2000-01-01T00:00:00Z", "until": "2100-01-01T00:00:00Z"},
        headers=port["security"].headers,
    )
    found: list[dict[str, Any]] = ok(response)["draws"]
    return found


async def outcome(port: Port, inspection_id: str, member: str, result: str) -> Any:
    return await port.client.post(
        f"/v1/inspections/{inspection_id}/outcome",
        json={"outcome": result},
        headers=port[member].headers,
    )


async def test_a_decision_names_a_draw_anyone_can_recompute(port: Port) -> None:
    chain = await ready(port)
    decision = await ask(port, chain)
    assert decision["decision"] == "release" and decision["draw_id"] is not None

    keys = ok(await port.client.get("/v1/inspections/key"))  # public: no token
    [published] = await draws(port)
    assert published["draw_id"] == decision["draw_id"]
    public_keys = {key["key_id"]: b64url_decode(key["public_key"]) for key in keys["keys"]}
    alpha = published["alpha"].encode("utf-8")
    beta = vrf.verify(public_keys[published["key_id"]], b64url_decode(published["pi"]), alpha)
    assert beta == b64url_decode(published["beta"])
    assert published["u"] == u_of(beta)
    assert published["selected"] is (published["u"] < published["probability"]) is False
    # alpha is the canonical JSON of its object, which names the subject and a checkpoint.
    assert rfc8785.dumps(published["alpha_object"]) == alpha
    assert published["decision_id"] == decision["decision_id"]
    assert published["alpha_object"]["subject"]["visit"] == 1
    assert published["alpha_object"]["subject"]["release"] == str(chain.release_id)
    async with transaction(port.release.state.sessions) as session:
        latest = await audit_log.latest_checkpoint(session)
    assert latest is not None
    checkpoint = published["alpha_object"]["checkpoint"]
    assert (checkpoint["size"], base64.b64decode(checkpoint["root"])) == (
        latest.size,
        latest.root_hash,
    )


async def test_asking_again_during_a_visit_draws_nothing_new(port: Port) -> None:
    chain = await ready(port)
    first = await ask(port, chain)
    again = await ask(port, chain)
    assert again["decision"] == "release"
    assert again["draw_id"] == first["draw_id"]
    assert len(await draws(port)) == 1


async def test_a_selection_sticks_until_an_officer_records_the_outcome(
    make_settings: SettingsFactory,
) -> None:
    async with make_port(make_settings, inspect_probability=1.0) as port:
        chain = await ready(port)
        first = await ask(port, chain)
        assert first["decision"] == "inspect" and first["inspection_id"] is not None
        assert [reason["code"] for reason in first["reasons"]] == ["random_inspection"]
        # A fresh gate pass, asked again: the open inspection is the answer, nothing drawn.
        again = await ask(port, chain)
        assert again["decision"] == "inspect"
        assert [reason["code"] for reason in again["reasons"]] == ["inspection_open"]
        assert again["inspection_id"] == first["inspection_id"]
        assert len(await draws(port)) == 1

        cleared = await outcome(port, first["inspection_id"], "customs", "clear")
        assert ok(cleared)["status"] == "clear"
        after = await ask(port, chain)
        assert after["decision"] == "release", after
        assert after["draw_id"] == first["draw_id"]  # the draw that selected it
        assert len(await draws(port)) == 1
        done = await port.client.post(
            f"/v1/gate/decisions/{after['decision_id']}/complete",
            headers=port["terminal"].headers,
        )
        assert done.status_code == 200, done.text


async def test_a_finding_places_a_customs_hold(make_settings: SettingsFactory) -> None:
    async with make_port(make_settings, inspect_probability=1.0) as port:
        chain = await ready(port)
        first = await ask(port, chain)
        found = await outcome(port, first["inspection_id"], "security", "finding")
        assert ok(found)["status"] == "finding"
        after = await ask(port, chain)
        assert after["decision"] == "deny"
        assert "customs_hold" in [reason["code"] for reason in after["reasons"]]
        again = await outcome(port, first["inspection_id"], "customs", "clear")
        assert_problem(again, 409, "inspection_closed")


async def test_the_terminal_sees_its_open_inspections(make_settings: SettingsFactory) -> None:
    async with make_port(make_settings, inspect_probability=1.0) as port:
        chain = await ready(port)
        first = await ask(port, chain)
        listed = ok(
            await port.client.get(
                "/v1/inspections", params={"status": "open"}, headers=port["terminal"].headers
            )
        )
        assert [item["inspection_id"] for item in listed["inspections"]] == [first["inspection_id"]]
        one = ok(
            await port.client.get(
                f"/v1/inspections/{first['inspection_id']}", headers=port["customs"].headers
            )
        )
        assert one["status"] == "open" and one["container"] == chain.container


async def test_no_draw_without_a_signed_checkpoint(make_settings: SettingsFactory) -> None:
    async with make_port(make_settings) as port:
        async with transaction(port.release.state.sessions) as session:
            await session.exec(delete(AuditCheckpoint))
        key: DrawingKey = port.release.state.drawing_key
        try:
            async with transaction(port.release.state.sessions) as session:
                await draw(
                    session,
                    key=key,
                    purpose=Purpose.container,
                    subject={"test": "no checkpoint"},
                    probability=0.5,
                    now=utcnow(),
                )
        except NoCheckpoint as exc:
            assert (exc.status, exc.code) == (503, "checkpoint_unavailable")
        else:
            raise AssertionError("a draw was made without a checkpoint")


async def test_draws_and_decisions_read_a_page_at_a_time_without_repeats(port: Port) -> None:
    made = [await ask(port, await ready(port)) for _ in range(3)]
    for path, key, field in (
        ("/v1/inspections/draws", "draws", "draw_id"),
        ("/v1/inspections/decisions", "decisions", "decision_id"),
    ):
        seen: list[str] = []
        cursor = None
        for _ in range(10):
            params = {
                "since": "2000-01-01T00:00:00Z",
                "until": "2100-01-01T00:00:00Z",
                "limit": "1",
                **({"cursor": cursor} if cursor else {}),
            }
            page = ok(await port.client.get(path, params=params, headers=port["security"].headers))
            seen += [item[field] for item in page[key]]
            cursor = page["next"]
            if cursor is None:
                break
        assert sorted(seen) == sorted(decision[field] for decision in made), path
