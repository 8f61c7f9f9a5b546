"""The gate: each reason to deny, the kiosk path, random inspection, the gate-out once, the
receipt of the decision, and a revoked party breaking its open chains."""

import time
import uuid
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import update
from sqlmodel import col

from services.identity.parties import service as parties
from services.identity.people.models import Person
from services.release.gate.models import GateDecision
from shared import jose
from shared.db import transaction
from shared.gatepass import GATE_PASS_TYP
from shared.models import utcnow
from tests.audit_helpers import integrate_all
from tests.conftest import SettingsFactory
from tests.helpers import assert_problem
from tests.identity.factories import totp_now, wrong_code
from tests.release.chains import (
    Chain,
    accept,
    ask_gate,
    create_release,
    full_chain,
    gate_pass,
    ok,
)
from tests.release.port import Port, make_port, new_container, unchanged

SHORT = ("forwarder", "carrier")


def codes(decision: dict[str, Any]) -> list[str]:
    return [reason["code"] for reason in decision["reasons"]]


async def ready(port: Port, **fields: Any) -> tuple[Chain, Person]:
    chain = await full_chain(port, path=SHORT, **fields)
    assert chain.driver is not None
    return chain, chain.driver


async def test_a_container_without_an_open_release_here_is_denied(port: Port) -> None:
    chain, driver = await ready(port)
    unknown = await ask_gate(
        port, new_container(), gate_pass=await gate_pass(port, "carrier", driver)
    )
    assert (unknown["decision"], codes(unknown)) == ("deny", ["no_open_release"])
    elsewhere = await port.client.post(
        "/v1/gate/decisions",
        json={"container": chain.container, "gate_pass": await gate_pass(port, "carrier", driver)},
        headers=port["other_terminal"].headers,
    )
    decision = ok(elsewhere, 201)
    assert codes(decision) == ["no_open_release"] and decision["release_id"] is None


async def test_a_cancelled_release_is_denied(port: Port) -> None:
    chain, driver = await ready(port)
    ok(
        await port.client.post(
            f"/v1/releases/{chain.release_id}/cancel", headers=port["line"].headers
        )
    )
    decision = await ask_gate(
        port, chain.container, gate_pass=await gate_pass(port, "carrier", driver)
    )
    assert codes(decision) == ["release_cancelled"]


async def test_holds_deny_and_their_lifting_releases(port: Port) -> None:
    chain, driver = await ready(port)
    holds = f"/v1/releases/{chain.release_id}/holds"
    customs = await port.person_headers("customs", "officer")
    ok(await port.client.put(f"{holds}/customs", headers=customs))
    ok(await port.client.put(f"{holds}/terminal", headers=port["terminal"].headers))
    held = await ask_gate(port, chain.container, gate_pass=await gate_pass(port, "carrier", driver))
    assert (held["decision"], sorted(codes(held))) == ("deny", ["customs_hold", "terminal_hold"])
    ok(await port.client.delete(f"{holds}/customs", headers=customs))
    ok(await port.client.delete(f"{holds}/terminal", headers=port["terminal"].headers))
    free = await ask_gate(port, chain.container, gate_pass=await gate_pass(port, "carrier", driver))
    assert free["decision"] == "release"


async def test_an_unfinished_chain_is_broken_at_its_last_link(port: Port) -> None:
    chain = await create_release(port)
    await accept(port, chain, 0, "forwarder")
    driver = await port.driver("carrier")
    decision = await ask_gate(
        port, chain.container, gate_pass=await gate_pass(port, "carrier", driver)
    )
    assert codes(decision) == ["chain_broken"]
    assert decision["reasons"][0]["link_code"] == "chain_incomplete"
    assert decision["reasons"][0]["seq"] == 0


async def test_another_driver_is_denied_even_of_the_same_carrier(port: Port) -> None:
    chain, _ = await ready(port)
    colleague = await port.driver("carrier")
    decision = await ask_gate(
        port, chain.container, gate_pass=await gate_pass(port, "carrier", colleague)
    )
    assert codes(decision) == ["wrong_driver"]


async def test_a_gate_pass_is_used_once(port: Port) -> None:
    chain, driver = await ready(port)
    token = await gate_pass(port, "carrier", driver)
    ok(
        await port.client.put(
            f"/v1/releases/{chain.release_id}/holds/terminal", headers=port["terminal"].headers
        )
    )
    first = await ask_gate(port, chain.container, gate_pass=token)
    assert codes(first) == ["terminal_hold"]
    replay = await ask_gate(port, chain.container, gate_pass=token)
    assert "gate_pass_replayed" in codes(replay)


async def test_forged_and_expired_gate_passes_are_denied(port: Port) -> None:
    chain, driver = await ready(port)
    now = int(time.time())
    claims = {
        "iss": port.identity.state.settings.issuer,
        "sub": str(driver.id),
        "party": port["carrier"].id,
        "amr": ["otp"],
        "iat": now,
        "exp": now + 60,
        "jti": str(uuid.uuid4()),
        "screened_until": (date.today() + timedelta(days=30)).isoformat(),
    }
    forged = jose.sign(claims, port["carrier"].key, typ=GATE_PASS_TYP)
    decision = await ask_gate(port, chain.container, gate_pass=forged)
    assert codes(decision)[0] == "gate_pass_invalid"
    assert "token_kid_unknown" in decision["reasons"][0]["detail"]
    _, service_key = await port.identity.state.keyring.signing()
    expired = jose.sign(
        {**claims, "iat": now - 300, "exp": now - 200, "jti": str(uuid.uuid4())},
        service_key,
        typ=GATE_PASS_TYP,
    )
    late = await ask_gate(port, chain.container, gate_pass=expired)
    assert codes(late)[0] == "gate_pass_invalid" and "token_expired" in late["reasons"][0]["detail"]


async def test_a_kiosk_asks_with_the_drivers_code(port: Port) -> None:
    chain, driver = await ready(port)
    wrong = await ask_gate(
        port, chain.container, driver=str(driver.id), otp=wrong_code(time.time())
    )
    assert codes(wrong)[0] == "second_factor_failed"
    right = await ask_gate(port, chain.container, driver=str(driver.id), otp=totp_now())
    assert right["decision"] == "release", right
    assert right["driver"] == str(driver.id)


async def test_a_suspended_driver_is_denied_at_the_kiosk(port: Port) -> None:
    chain, driver = await ready(port)
    async with transaction(port.identity.state.sessions) as session:
        person = await session.get(Person, driver.id)
        assert person is not None
        person.status = "suspended"
        session.add(person)
    decision = await ask_gate(port, chain.container, driver=str(driver.id), otp=totp_now())
    assert codes(decision) == ["driver_suspended"]


@pytest.mark.parametrize(
    "body",
    [
        {"container": "CSQU3054384", "gate_pass": "x.y.z"},
        {"container": "CSQU3054383"},
        {"container": "CSQU3054383", "gate_pass": "x.y.z", "otp": "123456"},
        {"container": "CSQU3054383", "driver": "not-a-uuid", "otp": "123456"},
        {"container": "CSQU3054383", "driver": str(uuid.uuid4()), "otp": "12ab56"},
    ],
)
async def test_malformed_gate_questions_are_422_and_change_nothing(
    port: Port, body: dict[str, Any]
) -> None:
    async with unchanged(port.release):
        response = await port.client.post(
            "/v1/gate/decisions", json=body, headers=port["terminal"].headers
        )
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_only_a_terminal_asks_the_gate(port: Port) -> None:
    chain, driver = await ready(port)
    body = {"container": chain.container, "gate_pass": await gate_pass(port, "carrier", driver)}
    async with unchanged(port.release):
        for headers in (port["carrier"].headers, await port.person_headers("terminal", "driver")):
            response = await port.client.post("/v1/gate/decisions", json=body, headers=headers)
            assert response.status_code == 403


async def test_the_gate_out_is_recorded_by_its_terminal_only_and_not_for_a_denial(
    port: Port,
) -> None:
    chain, driver = await ready(port)
    denied = await ask_gate(
        port, new_container(), gate_pass=await gate_pass(port, "carrier", driver)
    )
    path = "/v1/gate/decisions/{}/complete"
    assert_problem(
        await port.client.post(
            path.format(denied["decision_id"]), headers=port["terminal"].headers
        ),
        409,
        "decision_denied",
    )
    released = await ask_gate(
        port, chain.container, gate_pass=await gate_pass(port, "carrier", driver)
    )
    assert_problem(
        await port.client.post(
            path.format(released["decision_id"]), headers=port["other_terminal"].headers
        ),
        404,
        "decision_not_found",
    )
    assert_problem(
        await port.client.post(path.format(uuid.uuid4()), headers=port["terminal"].headers),
        404,
        "decision_not_found",
    )
    ok(
        await port.client.put(
            f"/v1/releases/{chain.release_id}/holds/terminal", headers=port["terminal"].headers
        )
    )
    assert_problem(
        await port.client.post(
            path.format(released["decision_id"]), headers=port["terminal"].headers
        ),
        409,
        "hold_placed",
    )


async def test_the_decision_event_gets_a_receipt_once_integrated(port: Port) -> None:
    chain, driver = await ready(port)
    decision = await ask_gate(
        port, chain.container, gate_pass=await gate_pass(port, "carrier", driver)
    )
    path = f"/log/../v1/log/events/{decision['event_id']}/receipt".replace("/log/..", "")
    await integrate_all(port.release)
    receipt = await port.client.get(path)
    assert receipt.status_code == 200, receipt.text
    assert receipt.text.startswith("c2sp.org/tlog-proof@v1")


async def test_inspection_is_drawn_and_blocks_the_gate_out(make_settings: SettingsFactory) -> None:
    async with make_port(make_settings, inspect_probability=1.0) as port:
        chain, driver = await ready(port)
        decision = await ask_gate(
            port, chain.container, gate_pass=await gate_pass(port, "carrier", driver)
        )
        assert (decision["decision"], codes(decision)) == ("inspect", ["random_inspection"])
        response = await port.client.post(
            f"/v1/gate/decisions/{decision['decision_id']}/complete",
            headers=port["terminal"].headers,
        )
        assert_problem(response, 409, "inspection_pending")


async def test_revoking_a_party_breaks_its_open_chains_at_the_gate(
    make_settings: SettingsFactory,
) -> None:
    async with make_port(make_settings, identity_refresh_seconds=0) as port:
        chain, driver = await ready(port)
        untouched = await full_chain(port, path=("forwarder2", "sub"))
        async with transaction(port.identity.state.sessions) as session:
            await parties.revoke_party(
                session, party_id=port["forwarder"].id, actor="test", now=utcnow()
            )
        decision = await ask_gate(
            port, chain.container, gate_pass=await gate_pass(port, "carrier", driver)
        )
        assert codes(decision) == ["chain_broken"]
        assert decision["reasons"][0]["link_code"] == "credential_revoked"
        # The first link that leans on the forwarder: the release it received.
        assert decision["reasons"][0]["seq"] == 0
        assert untouched.driver is not None
        other = await ask_gate(
            port, untouched.container, gate_pass=await gate_pass(port, "sub", untouched.driver)
        )
        assert other["decision"] == "release"


async def test_a_gate_out_is_recorded_once_and_only_on_a_fresh_decision(port: Port) -> None:
    chain, driver = await ready(port)
    first, second, stale = [
        await ask_gate(port, chain.container, gate_pass=await gate_pass(port, "carrier", driver))
        for _ in range(3)
    ]
    assert [codes(d) for d in (first, second, stale)] == [[], [], []]
    path = "/v1/gate/decisions/{}/complete"
    headers = port["terminal"].headers
    # A decision older than GATE_DECISION_VALID_SECONDS: the driver must ask the gate again.
    async with transaction(port.release.state.sessions) as session:
        old = utcnow() - timedelta(seconds=port.release.state.settings.gate_decision_valid_seconds)
        await session.exec(
            update(GateDecision)
            .where(col(GateDecision.id) == uuid.UUID(stale["decision_id"]))
            .values(decided_at=old - timedelta(seconds=1))
        )
    async with unchanged(port.release):
        response = await port.client.post(path.format(stale["decision_id"]), headers=headers)
        assert_problem(response, 409, "decision_expired")

    ok(await port.client.post(path.format(first["decision_id"]), headers=headers))
    async with unchanged(port.release):
        response = await port.client.post(path.format(first["decision_id"]), headers=headers)
        assert_problem(response, 409, "already_completed")
        # Another decision for the same release, still fresh: the container has left.
        response = await port.client.post(path.format(second["decision_id"]), headers=headers)
        assert_problem(response, 409, "already_picked_up")
    view = ok(await port.client.get(f"/v1/releases/{chain.release_id}", headers=headers))
    assert view["status"] == "picked_up"
