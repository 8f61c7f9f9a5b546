"""Threat: a suspended (or dismissed) person keeps acting at the release service until his
token expires, and a party revoked after the gate decided still gets its container out.

A person's access token and gate pass name his entry in a published status list; the
release service reads that list as it reads credentials', so a suspension reaches it within
its refresh interval (0 here, so the test need not wait). The gate-out verifies the chain
again, so a party revoked between the decision and the barrier stops the container.
"""

import time
from typing import Any

from services.identity.parties import service as parties
from services.identity.people import service as people
from services.identity.people.models import Person
from shared.auth import issue_access_token
from shared.db import transaction
from shared.models import utcnow
from tests.conftest import SettingsFactory
from tests.helpers import assert_problem
from tests.identity.factories import bearer
from tests.release.chains import ask_gate, create_release, full_chain, gate_pass, ok
from tests.release.port import Port, make_port, snapshot


async def _suspend(port: Port, name: str, role: str) -> None:
    person = port[name].people[role]
    async with transaction(port.identity.state.sessions) as session:
        await people.suspend_person(session, person_id=person.id, actor="test", now=utcnow())


async def _released(port: Port) -> tuple[Person, dict[str, Any]]:
    """A whole chain and the gate's `release` decision for its driver."""
    chain = await full_chain(port, path=("forwarder", "carrier"))
    assert chain.driver is not None
    decision = await ask_gate(
        port, chain.container, gate_pass=await gate_pass(port, "carrier", chain.driver)
    )
    assert decision["decision"] == "release"
    return chain.driver, decision


async def _gate_out_is_refused(port: Port, decision_id: str) -> None:
    """The gate-out is 409 `chain_broken` and changes nothing."""
    before = await snapshot(port.release)
    response = await port.client.post(
        f"/v1/gate/decisions/{decision_id}/complete", headers=port["terminal"].headers
    )
    assert_problem(response, 409, "chain_broken")
    assert await snapshot(port.release) == before  # not completed, not picked up


async def test_a_suspended_dispatcher_is_refused_at_once(make_settings: SettingsFactory) -> None:
    async with make_port(make_settings, identity_refresh_seconds=0) as port:
        chain = await create_release(port)
        headers = await port.person_headers("forwarder")  # a dispatcher, signed in
        path = f"/v1/releases/{chain.release_id}"
        ok(await port.client.get(path, headers=headers))

        await _suspend(port, "forwarder", "dispatcher")

        assert_problem(await port.client.get(path, headers=headers), 401, "person_not_active")


async def test_a_reinstated_dispatcher_may_act_again(make_settings: SettingsFactory) -> None:
    async with make_port(make_settings, identity_refresh_seconds=0) as port:
        chain = await create_release(port)
        headers = await port.person_headers("forwarder")
        path = f"/v1/releases/{chain.release_id}"
        await _suspend(port, "forwarder", "dispatcher")
        assert_problem(await port.client.get(path, headers=headers), 401, "person_not_active")
        person = port["forwarder"].people["dispatcher"]
        async with transaction(port.identity.state.sessions) as session:
            await people.reinstate_person(session, person_id=person.id, actor="test", now=utcnow())
        ok(await port.client.get(path, headers=headers))


async def test_a_person_token_without_a_status_entry_is_refused(port: Port) -> None:
    chain = await create_release(port)
    member = port["forwarder"]
    person = member.people.get("dispatcher") or await port.driver("forwarder")
    settings = port.identity.state.settings
    _, key = await port.identity.state.keyring.signing()
    now = int(time.time())
    unaccountable = issue_access_token(
        key,
        issuer=settings.issuer,
        party_id=member.id,
        party_roles=list(member.party.roles),
        scopes=[],
        now=now,
        lifetime=600,
        person_id=person.id,
        person_role="dispatcher",
        auth_time=now,
        amr=["pwd", "otp"],
    )
    response = await port.client.get(
        f"/v1/releases/{chain.release_id}", headers=bearer(unaccountable)
    )
    assert_problem(response, 401, "person_status_unknown")


async def test_a_gate_pass_of_a_driver_suspended_since_is_denied(
    make_settings: SettingsFactory,
) -> None:
    async with make_port(make_settings, identity_refresh_seconds=0) as port:
        chain = await full_chain(port, path=("forwarder", "carrier"))
        assert chain.driver is not None
        token = await gate_pass(port, "carrier", chain.driver)
        async with transaction(port.identity.state.sessions) as session:
            await people.suspend_person(
                session, person_id=chain.driver.id, actor="test", now=utcnow()
            )

        decision = await ask_gate(port, chain.container, gate_pass=token)

        assert decision["decision"] == "deny"
        assert "driver_suspended" in {reason["code"] for reason in decision["reasons"]}


async def test_a_party_revoked_after_the_decision_cannot_take_the_container_out(
    make_settings: SettingsFactory,
) -> None:
    async with make_port(make_settings, identity_refresh_seconds=0) as port:
        _, decision = await _released(port)
        async with transaction(port.identity.state.sessions) as session:
            await parties.revoke_party(
                session, party_id=port["carrier"].id, actor="test", now=utcnow()
            )

        await _gate_out_is_refused(port, decision["decision_id"])


async def test_a_driver_suspended_after_the_decision_cannot_take_the_container_out(
    make_settings: SettingsFactory,
) -> None:
    async with make_port(make_settings, identity_refresh_seconds=0) as port:
        driver, decision = await _released(port)
        async with transaction(port.identity.state.sessions) as session:
            await people.suspend_person(session, person_id=driver.id, actor="test", now=utcnow())

        # His device key signed his acceptance; suspending him suspended its credential.
        await _gate_out_is_refused(port, decision["decision_id"])
