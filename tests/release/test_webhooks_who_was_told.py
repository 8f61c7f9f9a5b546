"""`deliveries_about`: who was told of a release, for "who knew?" (the first success of each
delivery; a replay tells nothing new)."""

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from services.release.webhooks.fanout import forget_fanned_out
from services.release.webhooks.repository import deliveries_about
from shared.db import transaction
from shared.models import utcnow
from tests.conftest import SettingsFactory
from tests.release.chains import accept, create_release
from tests.release.port import Port, make_port
from tests.release.webhooks import READER_TYPES, Receiver, deliver, outbox, subscribe


@pytest.fixture
async def port(make_settings: SettingsFactory) -> AsyncIterator[Port]:
    """A port with local receivers allowed."""
    async with make_port(make_settings, webhook_allow_private=True) as p:
        yield p


async def test_who_was_told_of_a_release(port: Port) -> None:
    start = utcnow()
    line, forwarder = Receiver(), Receiver()
    async with line.running(), forwarder.running():
        await subscribe(port, "line", line.url, READER_TYPES)
        await subscribe(port, "forwarder", forwarder.url, READER_TYPES)
        chain = await create_release(port, to="forwarder")
        other = await create_release(port, to="forwarder2")
        await deliver(port)
        await accept(port, chain, 0, "forwarder")
        await deliver(port)
    async with transaction(port.release.state.sessions) as session:
        told = await deliveries_about(
            session,
            release_ids=[chain.release_id],
            since=start - timedelta(minutes=1),
            until=utcnow() + timedelta(minutes=1),
        )
        none_before = await deliveries_about(
            session, release_ids=[chain.release_id], since=start - timedelta(days=1), until=start
        )
    assert none_before == []
    assert {t.release_id for t in told} == {chain.release_id}
    assert sorted((t.party_id, t.event_type) for t in told) == sorted(
        [
            (port["line"].id, "nl.ketenpas.release.nomination_received"),
            (port["line"].id, "nl.ketenpas.release.link_accepted"),
            (port["forwarder"].id, "nl.ketenpas.release.nomination_received"),
            (port["forwarder"].id, "nl.ketenpas.release.link_accepted"),
        ]
    )
    assert all(t.delivered_at is not None for t in told)
    assert other.release_id not in {t.release_id for t in told}


async def test_fanned_out_events_are_forgotten_after_the_expiry_look_back(port: Port) -> None:
    await create_release(port, to="forwarder")
    await deliver(port)
    [event] = await outbox(port)
    assert event.fanned_out_at is not None
    async with transaction(port.release.state.sessions) as session:
        assert await forget_fanned_out(session=session, now=utcnow() + timedelta(days=7)) == 0
    async with transaction(port.release.state.sessions) as session:
        assert await forget_fanned_out(session=session, now=utcnow() + timedelta(days=9)) == 1
    assert await outbox(port) == []
