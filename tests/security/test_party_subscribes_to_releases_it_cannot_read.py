"""Threat: a bribed employee of a carrier, a shipping line or a terminal subscribes his
party's endpoint to every event type, hoping the port's events tell him of containers his
party has no part in (whose chain, which driver, when the gate lets it go).

Every event about a release is judged for each subscription by the release service's own
read rule (`releases.repository.visible_to`, for the subscribing party) when it is fanned
out, and its payload is the release as that party's read shows it: a party that may not read
a release is told nothing of it, whatever it subscribed to. Customs and port security, who may
look up every release, get no feed of the whole port (only what concerns them: selections,
alerts), as the work list refuses them a list of it.
"""

from collections.abc import AsyncIterator

import pytest

from tests.conftest import SettingsFactory
from tests.release.chains import ask_gate, create_release, full_chain, gate_pass, ok
from tests.release.port import Port, make_port
from tests.release.webhooks import (
    READER_TYPES,
    SECURITY_TYPES,
    TERMINAL_TYPES,
    Receiver,
    deliver,
    subscribe,
)


@pytest.fixture
async def port(make_settings: SettingsFactory) -> AsyncIterator[Port]:
    """A port with local receivers allowed."""
    async with make_port(make_settings, webhook_allow_private=True) as p:
        yield p


async def test_outsiders_hear_nothing_of_a_release_they_cannot_read(port: Port) -> None:
    outsiders = {
        "other_carrier": READER_TYPES,
        "other_line": READER_TYPES,
        "other_terminal": TERMINAL_TYPES,
        "customs": [*READER_TYPES, "nl.ketenpas.inspection.selected"],
        "security": [*READER_TYPES, *SECURITY_TYPES],
    }
    receivers = {name: Receiver() for name in outsiders}
    insider = Receiver()
    async with (
        receivers["other_carrier"].running(),
        receivers["other_line"].running(),
        receivers["other_terminal"].running(),
        receivers["customs"].running(),
        receivers["security"].running(),
        insider.running(),
    ):
        for name, types in outsiders.items():
            await subscribe(port, name, receivers[name].url, types)
        await subscribe(port, "carrier", insider.url, READER_TYPES)
        chain = await full_chain(port, path=("forwarder", "carrier"))
        assert chain.driver is not None
        ok(
            await port.client.put(
                f"/v1/releases/{chain.release_id}/holds/terminal",
                json={"reason": "damaged seal"},
                headers=port["terminal"].headers,
            )
        )
        decision = await ask_gate(
            port, chain.container, gate_pass=await gate_pass(port, "carrier", chain.driver)
        )
        assert decision["decision"] == "deny"
        await create_release(port, to="forwarder2")
        await deliver(port)
    for name, receiver in receivers.items():
        assert receiver.received == [], name
    # The carrier in the chain hears of it, and no more than its read shows: not the bill of
    # lading, nor the hold's reason or who placed it.
    assert insider.received
    for item in insider.received:
        release = item.event["data"]["release"]
        assert release["release_id"] == str(chain.release_id)
        assert release["reference"] is None and release["origin"] is None
        for hold in release["holds"]:
            assert hold["reason"] is None and hold["placed_by_party"] is None


async def test_a_party_dropped_from_the_chain_hears_no_more_of_it(port: Port) -> None:
    receiver = Receiver()
    async with receiver.running():
        await subscribe(port, "forwarder", receiver.url, READER_TYPES)
        chain = await create_release(port, to="forwarder")
        await deliver(port)
        ok(
            await port.client.post(
                f"/v1/releases/{chain.release_id}/links/0/decline",
                headers=port["forwarder"].headers,
            )
        )
        ok(
            await port.client.put(
                f"/v1/releases/{chain.release_id}/holds/customs",
                json={},
                headers=port["customs"].headers,
            )
        )
        await deliver(port)
    assert receiver.types() == ["nl.ketenpas.release.nomination_received"]
