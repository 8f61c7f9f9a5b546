"""Who knew of a container counts the parties its events were delivered to: a webhook
delivery about one of its releases tells the subscribing party as a read would."""

from collections.abc import AsyncIterator

import pytest

from tests.conftest import SettingsFactory
from tests.release.chains import accept, create_release
from tests.release.port import Port, make_port
from tests.release.webhooks import READER_TYPES, Receiver, deliver, subscribe
from tests.release.who_knew import who_knew


@pytest.fixture
async def port(make_settings: SettingsFactory) -> AsyncIterator[Port]:
    """A port with local receivers allowed."""
    async with make_port(make_settings, webhook_allow_private=True) as p:
        yield p


async def test_each_delivered_event_is_an_entry_naming_the_party_told(port: Port) -> None:
    line, refusing = Receiver(), Receiver(status=500)
    async with line.running(), refusing.running():
        await subscribe(port, "line", line.url, READER_TYPES)
        await subscribe(port, "forwarder", refusing.url, READER_TYPES)
        chain = await create_release(port, to="forwarder")
        await deliver(port)
        await accept(port, chain, 0, "forwarder")
        await deliver(port)

    entries = (await who_knew(port, chain.container))["entries"]

    told = [(e["party_id"], e["outcome"]) for e in entries if e["source"] == "event"]
    # The forwarder's system answered 500 to every try: it was not told (its chain link is).
    assert told == [
        (port["line"].id, "nl.ketenpas.release.nomination_received"),
        (port["line"].id, "nl.ketenpas.release.link_accepted"),
    ]
    events = [e for e in entries if e["source"] == "event"]
    assert {(e["action"], e["release_id"], e["pickup"]) for e in events} == {
        ("event.delivered", str(chain.release_id), "none")
    }
    assert [e["at"] for e in events] == sorted(e["at"] for e in events)
    assert len(line.received) == 2
