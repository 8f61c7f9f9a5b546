"""Delivery: at least once, in order per release, retried with back-off while a receiver is
down, given up after a bounded time (the subscription then `failing`), replayed with the
same webhook-id; a rolled-back change announces nothing; a forged or replayed delivery
fails the receiver's check."""

import asyncio
import contextlib
import json
import os
import signal
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from services.release.releases import service as releases
from services.release.releases.models import HoldKind
from services.release.webhooks.cli import serve, serve_until_stopped
from services.release.webhooks.dispatcher import Backoff
from services.release.webhooks.models import DeliveryStatus, DispatcherLead
from services.release.webhooks.repository import LEAD
from shared.db import transaction
from shared.models import utcnow
from shared.webhooks.signing import SignatureInvalid, signed_headers, verify
from tests.conftest import SettingsFactory
from tests.helpers import assert_problem
from tests.observability.metrics_helpers import value
from tests.release.chains import accept, create_release, hand_over, ok
from tests.release.port import Port, make_port
from tests.release.webhooks import (
    READER_TYPES,
    Receiver,
    deliver,
    deliveries,
    dispatcher,
    manager_headers,
    outbox,
    pending,
    subscribe,
    until,
)

OUTCOMES = ("delivered", "retrying", "given_up")


@pytest.fixture
async def port(make_settings: SettingsFactory) -> AsyncIterator[Port]:
    """A port with local receivers allowed; a delivery may take 30 s, so that a receiver
    held unanswered is still unanswered when the test looks, however slow the machine."""
    async with make_port(
        make_settings,
        webhook_allow_private=True,
        webhook_timeout_seconds=30,
        webhook_lease_seconds=60,
    ) as p:
        yield p


async def test_a_receiver_down_for_hours_gets_everything_in_order_once_back(port: Port) -> None:
    receiver = Receiver(status=503)
    async with receiver.running():
        await subscribe(port, "line", receiver.url, READER_TYPES)
        first = await create_release(port, to="forwarder")
        second = await create_release(port, to="forwarder")
        await accept(port, first, 0, "forwarder")
        await hand_over(port, first, "forwarder", "carrier")
        await accept(port, second, 0, "forwarder")
        await accept(port, first, 1, "carrier")
        expected = {
            release: [event.event_id for event in await outbox(port) if event.release_id == release]
            for release in (first.release_id, second.release_id)
        }
        start = utcnow()
        # Down for six hours: each look retries only the first event of each release (the
        # later ones wait their turn), further apart each time.
        moment = start
        for _ in range(12):
            await deliver(port, moment)
            moment += timedelta(minutes=30)
        rows = await deliveries(port)
        assert receiver.received == []
        waiting = {row.release_id: row for row in rows if row.attempts > 0}
        assert set(waiting) == {first.release_id, second.release_id}
        assert all(row.attempts >= 3 for row in waiting.values())
        assert all(row.status == DeliveryStatus.pending for row in rows)
        assert sum(row.attempts for row in rows) == sum(row.attempts for row in waiting.values())
        subscription = ok(
            await port.client.get("/v1/subscriptions", headers=await manager_headers(port, "line"))
        )["subscriptions"][0]
        assert subscription["status"] == "active"  # not given up yet

        receiver.status = 204
        moment += timedelta(hours=2)  # past every back-off so far
        for _ in range(20):
            await deliver(port, moment)
            if not pending(await deliveries(port)):
                break
        assert pending(await deliveries(port)) == []
    got: dict[object, list[str]] = {}
    for item in receiver.received:
        got.setdefault(item.event["subject"], []).append(item.event["id"])
    for release, events in expected.items():
        assert got[str(release)] == [str(event) for event in events]


async def test_given_up_after_the_bound_then_failing_until_a_replay_arrives(
    port: Port,
) -> None:
    receiver = Receiver(status=500)
    async with receiver.running():
        made = await subscribe(port, "line", receiver.url, READER_TYPES)
        headers = await manager_headers(port, "line")
        chain = await create_release(port, to="forwarder")
        start = utcnow()
        await deliver(port, start)
        await deliver(port, start + timedelta(hours=25))
        [row] = await deliveries(port)
        assert row.status == DeliveryStatus.failed and row.attempts == 2
        path = f"/v1/subscriptions/{made['id']}"
        seen = ok(await port.client.get(path, headers=headers))
        assert seen["status"] == "failing" and seen["failing_since"] is not None
        listed = ok(await port.client.get(f"{path}/deliveries", headers=headers))
        assert [d["status"] for d in listed["deliveries"]] == ["failed"]
        assert listed["deliveries"][0]["last_status_code"] == 500

        receiver.status = 204
        replayed = await port.client.post(f"{path}/deliveries/{row.id}/replay", headers=headers)
        assert replayed.status_code == 202, replayed.text
        again = await port.client.post(f"{path}/deliveries/{row.id}/replay", headers=headers)
        assert_problem(again, 409, "delivery_pending")
        await deliver(port, start + timedelta(hours=26))
    [item] = receiver.received
    assert item.headers["webhook-id"] == str(row.id)
    assert item.event["subject"] == str(chain.release_id)
    verify(made["secret"], item.headers, item.body)
    assert ok(await port.client.get(path, headers=headers))["status"] == "active"

    # Replaying everything since a moment sends it again with the same webhook-id.
    second = Receiver()
    async with second.running():
        fresh = await subscribe(port, "line", second.url, READER_TYPES)
        await create_release(port, to="forwarder")
        await deliver(port)
        base = f"/v1/subscriptions/{fresh['id']}"
        since = (utcnow() - timedelta(hours=1)).isoformat()
        result = ok(
            await port.client.post(f"{base}/replay", json={"since": since}, headers=headers), 202
        )
        assert result == {"replayed": 1}
        await deliver(port)
    assert len(second.received) == 2
    assert second.received[0].headers["webhook-id"] == second.received[1].headers["webhook-id"]


async def test_sends_are_counted_by_outcome_for_the_operator(port: Port) -> None:
    attempts = "ketenpas_webhook_attempts_total"
    before = {outcome: value(attempts, outcome=outcome) for outcome in OUTCOMES}
    receiver = Receiver(status=500)
    async with receiver.running():
        await subscribe(port, "line", receiver.url, READER_TYPES)
        await create_release(port, to="forwarder")
        start = utcnow()
        await deliver(port, start)  # fails: tried again later
        await deliver(port, start + timedelta(hours=25))  # fails past the bound: given up
        receiver.status = 204
        await create_release(port, to="forwarder")
        await deliver(port, start + timedelta(hours=25, seconds=1))
    counted = {outcome: value(attempts, outcome=outcome) - before[outcome] for outcome in OUTCOMES}
    assert counted == {"delivered": 1, "retrying": 1, "given_up": 1}
    assert value("ketenpas_webhook_delivered_timestamp_seconds") >= start.timestamp()


async def test_a_rolled_back_change_announces_nothing(port: Port) -> None:
    receiver = Receiver()
    async with receiver.running():
        await subscribe(port, "line", receiver.url, READER_TYPES)
        chain = await create_release(port, to="forwarder")
        await deliver(port)
        before = len(await outbox(port))
        with pytest.raises(RuntimeError):
            async with transaction(port.release.state.sessions) as session:
                await releases.add_hold(
                    session,
                    release_id=chain.release_id,
                    kind=HoldKind.customs,
                    party_id=port["customs"].id,
                    actor="test",
                    reason=None,
                    now=utcnow(),
                )
                raise RuntimeError("the change fails after its event was written")
        await deliver(port)
    assert len(await outbox(port)) == before
    assert receiver.types() == ["nl.ketenpas.release.nomination_received"]


async def test_a_forged_altered_or_replayed_delivery_fails_the_receivers_check(
    port: Port,
) -> None:
    receiver = Receiver()
    async with receiver.running():
        made = await subscribe(port, "line", receiver.url, READER_TYPES)
        await create_release(port, to="forwarder")
        await deliver(port)
    [item] = receiver.received
    secret = made["secret"]
    verify(secret, item.headers, item.body)
    altered = json.loads(item.body)
    altered["data"]["release"]["release_to"] = port["other_carrier"].id
    with pytest.raises(SignatureInvalid):
        verify(secret, item.headers, json.dumps(altered).encode())
    other = (await subscribe(port, "line", receiver.url, READER_TYPES))["secret"]
    with pytest.raises(SignatureInvalid):
        verify(
            secret,
            signed_headers(
                other,
                message_id=item.headers["webhook-id"],
                timestamp=datetime.now(UTC),
                body=item.body,
            ),
            item.body,
        )
    old = signed_headers(
        secret,
        message_id=item.headers["webhook-id"],
        timestamp=datetime.now(UTC) - timedelta(minutes=6),
        body=item.body,
    )
    with pytest.raises(SignatureInvalid):
        verify(secret, old, item.body)


def test_back_off_doubles_with_jitter_up_to_its_cap() -> None:
    low = Backoff(base_seconds=5, cap_seconds=60, give_up_seconds=3600, jitter=lambda: 0.0)
    high = Backoff(base_seconds=5, cap_seconds=60, give_up_seconds=3600, jitter=lambda: 1.0)
    assert [low.delay(n).total_seconds() for n in (1, 2, 3, 6)] == [2.5, 5.0, 10.0, 30.0]
    assert [high.delay(n).total_seconds() for n in (1, 2, 3, 6, 40)] == [5, 10, 20, 60, 60]


async def test_a_subscriber_that_never_answers_delays_no_other(port: Port) -> None:
    hold = asyncio.Event()
    silent, quick = Receiver(hold=hold), Receiver()
    async with silent.running(), quick.running():
        stuck = await subscribe(port, "line", silent.url, READER_TYPES)
        await subscribe(port, "forwarder", quick.url, READER_TYPES)
        for _ in range(5):
            await create_release(port, to="forwarder")
        worker = dispatcher(port)
        limit = worker.per_subscription
        try:
            for _ in range(10):
                await worker.tick(utcnow())
                await until(lambda: sum(worker.in_flight().values()) <= limit)
                if len(quick.received) == 5:
                    break
            # Every event reached the subscriber that answers, while the silent one holds
            # only its own slots, its requests still unanswered.
            assert len(quick.received) == 5
            await until(lambda: silent.waiting == limit)
            assert worker.in_flight() == {uuid.UUID(stuck["id"]): limit}
        finally:
            hold.set()
            await worker.drain()


async def test_the_background_dispatcher_delivers_on_its_own(
    make_settings: SettingsFactory,
) -> None:
    receiver = Receiver()
    async with (
        make_port(
            make_settings,
            webhook_allow_private=True,
            run_webhooks=True,
            webhook_poll_seconds=0.05,
        ) as port,
        receiver.running(),
    ):
        made = await subscribe(port, "line", receiver.url, READER_TYPES)
        chain = await create_release(port, to="forwarder")
        await accept(port, chain, 0, "forwarder")
        await until(lambda: len(receiver.received) == 2)
        assert receiver.types() == [
            "nl.ketenpas.release.nomination_received",
            "nl.ketenpas.release.link_accepted",
        ]
        for item in receiver.received:
            verify(made["secret"], item.headers, item.body)
        await until(lambda: not dispatcher(port).in_flight())


async def test_a_failing_subscriber_gets_one_send_at_a_time_until_one_succeeds(
    port: Port,
) -> None:
    receiver = Receiver(status=503)
    async with receiver.running():
        await subscribe(port, "line", receiver.url, READER_TYPES)
        for _ in range(5):
            await create_release(port, to="forwarder")
        worker = dispatcher(port)
        moment = utcnow()
        first = await worker.tick(moment)
        await worker.drain()
        assert first.sent == worker.per_subscription  # not failing yet: its full share
        moment += timedelta(hours=2)
        again = await worker.tick(moment)
        await worker.drain()
        assert again.sent == 1  # its latest send failed: one at a time
        receiver.status = 204
        moment += timedelta(hours=2)
        recovered = await worker.tick(moment)
        await worker.drain()
        assert recovered.sent == 1
        after = await worker.tick(moment)
        await worker.drain()
        assert after.sent == worker.per_subscription  # it answered: its full share again


async def test_the_dispatcher_runs_alone_in_a_process_of_its_own(port: Port) -> None:
    receiver = Receiver()
    async with receiver.running():
        made = await subscribe(port, "line", receiver.url, READER_TYPES)
        await create_release(port, to="forwarder")
        settings = port.release.state.settings.model_copy(update={"webhook_poll_seconds": 0.05})
        alone = asyncio.create_task(serve(settings, identity_transport=port.identity_line))
        try:
            await until(lambda: len(receiver.received) == 1)
        finally:
            alone.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await alone
    verify(made["secret"], receiver.received[0].headers, receiver.received[0].body)
    [row] = await deliveries(port)
    assert row.status == DeliveryStatus.delivered


async def test_the_dispatcher_alone_stops_on_sigterm_and_hands_its_lead_over(port: Port) -> None:
    receiver = Receiver()
    async with receiver.running():
        await subscribe(port, "line", receiver.url, READER_TYPES)
        await create_release(port, to="forwarder")
        settings = port.release.state.settings.model_copy(update={"webhook_poll_seconds": 0.05})
        alone = asyncio.create_task(
            serve_until_stopped(settings, identity_transport=port.identity_line)
        )
        await until(lambda: len(receiver.received) == 1)
        os.kill(os.getpid(), signal.SIGTERM)  # what a container's stop sends
        await asyncio.wait_for(alone, 30)  # ends by itself, without an error
    async with transaction(port.release.state.sessions) as session:
        lead = await session.get(DispatcherLead, LEAD)
    assert lead is not None and lead.until <= utcnow()  # handed over, not left to run out
