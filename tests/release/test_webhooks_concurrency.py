"""Several dispatchers (processes) at once never send one delivery at the same time: claims
are leased, under `FOR UPDATE SKIP LOCKED` on PostgreSQL and SQLite's write lock."""

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator

import pytest

from services.release.webhooks.dispatcher import Dispatcher
from services.release.webhooks.models import DeliveryStatus
from shared.models import utcnow
from tests.conftest import SettingsFactory
from tests.release.chains import create_release
from tests.release.port import Port, make_port
from tests.release.webhooks import (
    READER_TYPES,
    Receiver,
    deliveries,
    dispatcher,
    subscribe,
    until,
)


@pytest.fixture
async def port(make_settings: SettingsFactory) -> AsyncIterator[Port]:
    """Local receivers allowed, long timeouts (a held request stays held)."""
    async with make_port(
        make_settings,
        webhook_allow_private=True,
        webhook_timeout_seconds=30,
        webhook_lease_seconds=60,
        webhook_per_subscription=20,
    ) as p:
        yield p


async def test_two_dispatchers_never_send_one_delivery_twice_at_once(port: Port) -> None:
    hold = asyncio.Event()
    receiver = Receiver(hold=hold)
    async with receiver.running():
        for name in ("line", "forwarder"):
            await subscribe(port, name, receiver.url, READER_TYPES)
        for _ in range(6):
            await create_release(port, to="forwarder")
        settings = port.release.state.settings
        workers: list[Dispatcher] = []
        for _ in range(3):
            worker = Dispatcher.of(port.release.state.sessions, settings)
            assert worker is not None
            workers.append(worker)
        try:
            now = utcnow()
            for _ in range(3):
                await asyncio.gather(*(worker.tick(now) for worker in workers))
            total = len(await deliveries(port))
            assert total == 12
            await until(lambda: receiver.waiting == total)
            in_flight = sum(sum(worker.in_flight().values()) for worker in workers)
            assert in_flight == total  # each held once, by one of them
        finally:
            hold.set()
            for worker in workers:
                await worker.close()
    sent = Counter(item.headers["webhook-id"] for item in receiver.received)
    assert len(sent) == 12 and set(sent.values()) == {1}
    assert {row.status for row in await deliveries(port)} == {DeliveryStatus.delivered}


async def test_a_silent_subscribers_backlog_does_not_crowd_out_the_others(
    make_settings: SettingsFactory,
) -> None:
    hold = asyncio.Event()
    silent, quick = Receiver(hold=hold), Receiver()
    async with (
        make_port(
            make_settings,
            webhook_allow_private=True,
            webhook_timeout_seconds=30,
            webhook_lease_seconds=60,
            webhook_concurrency=4,
        ) as port,
        silent.running(),
        quick.running(),
    ):
        await subscribe(port, "line", silent.url, READER_TYPES)
        for _ in range(10):
            await create_release(port, to="forwarder2")
        worker = dispatcher(port)
        try:
            await worker.tick(utcnow())  # the silent one takes its share, and holds it
            await until(lambda: silent.waiting == worker.per_subscription)
            # Newer events for someone who answers, behind ten older ones of the silent
            # subscriber's that are due too.
            await subscribe(port, "forwarder", quick.url, READER_TYPES)
            for _ in range(3):
                await create_release(port, to="forwarder")
            for _ in range(5):
                await worker.tick(utcnow())
                await until(lambda: sum(worker.in_flight().values()) <= worker.per_subscription)
                if len(quick.received) == 3:
                    break
            assert len(quick.received) == 3
        finally:
            hold.set()
            await worker.drain()


def _standing_by(port: Port) -> Dispatcher:
    """A dispatcher as another process runs it, asking for the lead every 50 ms."""
    settings = port.release.state.settings.model_copy(update={"webhook_poll_seconds": 0.05})
    worker = Dispatcher.of(port.release.state.sessions, settings)
    assert worker is not None
    worker.lead_renew_seconds = 0.05
    return worker


async def test_one_dispatcher_leads_and_another_takes_over_when_it_stops(port: Port) -> None:
    receiver = Receiver()
    async with receiver.running():
        await subscribe(port, "line", receiver.url, READER_TYPES)
        first, second = _standing_by(port), _standing_by(port)
        first_run = asyncio.create_task(first.run())
        await until(lambda: first.leading)
        second_run = asyncio.create_task(second.run())
        try:
            await create_release(port, to="forwarder")
            await until(lambda: len(receiver.received) == 1 and second.lead_asks >= 2)
            assert not second.leading and second.looks == 0  # it only stood by
            first_run.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await first_run
            await first.close()  # hands the lead over
            await create_release(port, to="forwarder")
            await until(lambda: len(receiver.received) == 2)
            assert second.leading and second.looks > 0
        finally:
            second_run.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await second_run
            await second.close()


async def test_a_leader_that_dies_is_replaced_once_its_lead_runs_out(port: Port) -> None:
    receiver = Receiver()
    async with receiver.running():
        await subscribe(port, "line", receiver.url, READER_TYPES)
        dead, second = _standing_by(port), _standing_by(port)
        dead.lead_seconds = 3.0  # long enough that the second asks before it runs out
        dead_run = asyncio.create_task(dead.run())
        await until(lambda: dead.leading)
        dead_run.cancel()  # killed: no hand-over, its lead stays until it runs out
        with contextlib.suppress(asyncio.CancelledError):
            await dead_run
        second_run = asyncio.create_task(second.run())
        try:
            await until(lambda: second.lead_asks >= 1)
            assert not second.leading  # the dead one's lead has not run out yet
            await create_release(port, to="forwarder")
            await until(lambda: len(receiver.received) == 1)
            assert second.leading
        finally:
            second_run.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await second_run
            await second.close()
            await dead.close()
