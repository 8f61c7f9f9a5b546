"""Threat: a carrier's dispatcher (or a driver through his carrier's systems) in league with
smugglers subscribes to selections, so that a container drawn for inspection is never
brought to the gate, or to gate decisions, to learn a selection ahead of his driver.

A selection is told only to those who may read inspections: the release's terminal, customs
and port security (docs/inspections.md). A carrier, forwarder or shipping line cannot even
subscribe to `inspection.selected` or `gate.decided` (422 `event_type_not_allowed`), and
whatever it subscribed to, nothing it receives names the inspection or the gate's answer: the
gate-out is the first it hears of the gate.
"""

from collections.abc import AsyncIterator

import pytest

from tests.conftest import SettingsFactory
from tests.helpers import assert_problem
from tests.release.chains import ask_gate, full_chain, gate_pass
from tests.release.port import Port, make_port
from tests.release.webhooks import READER_TYPES, Receiver, deliver, manager_headers, subscribe


@pytest.fixture
async def port(make_settings: SettingsFactory) -> AsyncIterator[Port]:
    """A gate that selects every container; local receivers allowed."""
    async with make_port(make_settings, inspect_probability=1.0, webhook_allow_private=True) as p:
        yield p


@pytest.mark.parametrize("member", ["carrier", "forwarder", "line"])
@pytest.mark.parametrize(
    "event_type", ["nl.ketenpas.inspection.selected", "nl.ketenpas.gate.decided"]
)
async def test_a_chain_party_cannot_subscribe_to_selections_or_decisions(
    port: Port, member: str, event_type: str
) -> None:
    response = await port.client.post(
        "/v1/subscriptions",
        json={"url": "https://tos.example.com/hook", "event_types": [event_type]},
        headers=await manager_headers(port, member),
    )
    assert_problem(response, 422, "event_type_not_allowed")


async def test_a_selection_reaches_the_terminal_and_never_the_chain(port: Port) -> None:
    chain_receivers = {name: Receiver() for name in ("carrier", "forwarder", "line")}
    terminal = Receiver()
    async with (
        chain_receivers["carrier"].running(),
        chain_receivers["forwarder"].running(),
        chain_receivers["line"].running(),
        terminal.running(),
    ):
        for name, receiver in chain_receivers.items():
            await subscribe(port, name, receiver.url, READER_TYPES)
        await subscribe(port, "terminal", terminal.url, ["nl.ketenpas.inspection.selected"])
        chain = await full_chain(port, path=("forwarder", "carrier"))
        assert chain.driver is not None
        await deliver(port)
        decision = await ask_gate(
            port, chain.container, gate_pass=await gate_pass(port, "carrier", chain.driver)
        )
        assert decision["decision"] == "inspect"
        await deliver(port)
    assert terminal.types() == ["nl.ketenpas.inspection.selected"]
    assert terminal.received[0].event["data"]["inspection_id"] == decision["inspection_id"]
    for name, receiver in chain_receivers.items():
        assert receiver.received, name
        for item in receiver.received:
            assert not item.event["type"].startswith(("nl.ketenpas.inspection", "nl.ketenpas.gate"))
            assert decision["inspection_id"] not in item.body.decode()
            assert decision["decision_id"] not in item.body.decode()
