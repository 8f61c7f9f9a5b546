"""The dispatcher: fans the outbox out and delivers, at least once, in order per release.

Runs in the background of the process that does background work (`run_webhooks`, unset:
where the sequencer runs), or alone (`ketenpas webhooks run`). Of all the dispatchers of a
deployment one leads at a time (a row of `webhook_dispatcher_lead`, renewed every
`LEAD_RENEW_SECONDS`); the others only wait to take over, so each subscription's share of
sends holds for the whole deployment. The leader looks every `webhook_poll_seconds`, and
again as soon as a send is answered (so a free slot is filled at once; answers that come
together, within `GATHER_SECONDS`, are handled by one look). Each look (`tick`):

0. **Record** the sends answered since the last look, in one transaction (a delivery stays
   leased until recorded, so nobody sends it again meanwhile).
1. **Fan-out** (`fanout.py`), in its own transaction under a lock (a PostgreSQL advisory
   lock; SQLite's write lock), so deliveries are made in event order once.
2. **Claim** the deliveries due now: pending, their retry time come, not leased, and not
   waiting for an earlier delivery of the same subscription and release (or for an earlier
   event of that release not fanned out yet), the oldest of each subscription's own queue
   up to its free share. Claimed rows are locked with `FOR UPDATE SKIP
   LOCKED` on PostgreSQL and leased for `webhook_lease_seconds`, so several processes never
   send one delivery at the same time; a process that dies leaves a lease that runs out,
   and another sends it again (at least once: receivers de-duplicate by `webhook-id`).
3. **Send** each in a task of its own, at most `webhook_concurrency` at once and at most
   `webhook_per_subscription` per subscription (one while its latest send failed): a
   subscriber that never answers costs its own slot its timeout, never another's, and never
   the gate (which only wrote a row).

A failed delivery is tried again after an exponential back-off with jitter (between half
and all of `base * 2^(attempts-1)`, capped), until `webhook_give_up_seconds` after it was
made (or replayed): then it is `failed` and its subscription `failing`, until a later
delivery to it succeeds. Each body is signed when sent, with the wall clock's time (what
receivers' 5-minute tolerance is checked against); the schedule follows the `now` given to
`tick`, so tests move time instead of waiting.
"""

import asyncio
import os
import secrets as system_random
import socket
import uuid
from collections import Counter
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import structlog
from fastapi import FastAPI

from services.release.identity_directory import IdentityDirectory
from services.release.settings import ReleaseSettings
from services.release.webhooks import repository
from services.release.webhooks.fanout import fan_out
from services.release.webhooks.models import Delivery, Subscription
from services.release.webhooks.secrets import SealError, unseal
from services.release.webhooks.settings import DispatcherSettings
from shared.db import SessionFactory, transaction
from shared.models import utcnow
from shared.observability import metrics
from shared.webhooks.egress import EgressPolicy, Sender
from shared.webhooks.envelope import CONTENT_TYPE, cloud_event
from shared.webhooks.signing import signed_headers

logger = structlog.get_logger(__name__)

FANOUT_BATCH = 100
# How long a look waits, once woken by an answer, for more answers to come.
GATHER_SECONDS = 0.02
# The lead lasts this long unless renewed, and is renewed (or, by a follower, asked for)
# this often: a leader that stops hands over at once, one that dies or stalls within
# LEAD_SECONDS + LEAD_RENEW_SECONDS.
LEAD_SECONDS = 15.0
LEAD_RENEW_SECONDS = 5.0


async def party_standing(
    directory: IdentityDirectory, subscription: Subscription, now: datetime
) -> str | None:
    """Why the subscription's party may be told nothing now, or None if it may.

    `party_not_active`: it holds no credential valid now (suspended, revoked, expired), the
    check every caller's party passes (`deps.get_caller`), so it is told nothing more, as its
    clients and people are refused. `party_roles_changed`: it no longer holds every role it
    subscribed with, and what it is told was judged with those roles (an overseer's, a
    terminal's); it subscribes again to be told as what it is now.
    """
    evidence = await directory.evidence([subscription.party_id])
    roles = evidence.valid_roles(subscription.party_id, now.timestamp())
    if roles is None:
        return "party_not_active"
    if not set(subscription.party_roles) <= roles:
        return "party_roles_changed"
    return None


@dataclass
class TickReport:
    """What one look did."""

    events: int = 0
    made: int = 0
    sent: int = 0


@dataclass(frozen=True)
class Backoff:
    """Exponential back-off with jitter, and when to give up."""

    base_seconds: float
    cap_seconds: float
    give_up_seconds: float
    jitter: Callable[[], float] = field(default=system_random.SystemRandom().random)

    def delay(self, attempts: int) -> timedelta:
        """The wait after the `attempts`-th failure: half to all of base * 2^(attempts-1)."""
        exponent = min(max(attempts - 1, 0), 30)
        ceiling = min(self.cap_seconds, self.base_seconds * 2**exponent)
        return timedelta(seconds=ceiling * (0.5 + 0.5 * self.jitter()))


class Dispatcher:
    """Fans out and delivers on `tick(now)`; `run` ticks every `poll_seconds`, and as soon
    as a send is answered."""

    def __init__(
        self,
        sessions: SessionFactory,
        *,
        sender: Sender,
        key: bytes,
        source: str,
        backoff: Backoff,
        concurrency: int,
        per_subscription: int,
        lease_seconds: float,
        poll_seconds: float,
        directory: IdentityDirectory | None = None,
        read_sessions: SessionFactory | None = None,
        wall: Callable[[], datetime] = utcnow,
    ) -> None:
        self._sessions = sessions
        # Whether there is work at all is asked in a read first: on SQLite every writing
        # transaction takes the one write lock the gate needs too.
        self._read_sessions = read_sessions or sessions
        self._sender = sender
        self._key = key
        self.source = source
        self.backoff = backoff
        self.concurrency = concurrency
        self.per_subscription = per_subscription
        self.lease = timedelta(seconds=lease_seconds)
        self.poll_seconds = poll_seconds
        self._directory = directory
        self._wall = wall
        self._in_flight: dict[asyncio.Task[None], Delivery] = {}
        # Sends answered and not yet recorded: written together by the next look, in one
        # transaction (a delivery stays leased until then, so nobody sends it again).
        self._answered: list[repository.Attempt] = []
        # Set when a send is answered, so `run` looks again at once: a free slot is filled
        # without waiting for the next poll.
        self._woken = asyncio.Event()
        self._next_expiry_look: datetime | None = None
        # Subscriptions whose latest send failed: one send at a time until one succeeds, so
        # a subscriber that never answers holds one slot, not `per_subscription`.
        self._struggling: set[uuid.UUID] = set()
        # Who this dispatcher is when it asks for the lead, and until when it holds it.
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._lead_until: datetime | None = None
        self._next_lead_look: datetime | None = None
        self.lead_seconds = LEAD_SECONDS
        self.lead_renew_seconds = LEAD_RENEW_SECONDS
        # How often this dispatcher asked for the lead, and looked (ticked) while leading.
        self.lead_asks = 0
        self.looks = 0

    @classmethod
    def of(
        cls,
        sessions: SessionFactory,
        settings: ReleaseSettings | DispatcherSettings,
        directory: IdentityDirectory | None = None,
        read_sessions: SessionFactory | None = None,
    ) -> "Dispatcher | None":
        """A dispatcher as the settings say; with `directory`, a party that no longer holds
        a valid credential is sent nothing (its deliveries wait, and are given up in time).
        None when the deployment has no webhook key (no webhooks)."""
        key = settings.webhook_key()
        if key is None:
            return None
        policy = EgressPolicy(
            allow_private=settings.webhook_allow_private,
            connect_timeout=settings.webhook_connect_timeout_seconds,
            total_timeout=settings.webhook_timeout_seconds,
            max_response_bytes=settings.webhook_max_response_bytes,
        )
        return cls(
            sessions,
            sender=Sender(policy),
            key=key,
            source=settings.public_url,
            backoff=Backoff(
                base_seconds=settings.webhook_retry_base_seconds,
                cap_seconds=settings.webhook_retry_cap_seconds,
                give_up_seconds=settings.webhook_give_up_seconds,
            ),
            concurrency=settings.webhook_concurrency,
            per_subscription=settings.webhook_per_subscription,
            lease_seconds=settings.webhook_lease_seconds,
            poll_seconds=settings.webhook_poll_seconds,
            directory=directory,
            read_sessions=read_sessions,
        )

    async def tick(self, now: datetime) -> TickReport:
        """Record the sends answered, fan out what is new, and start sending what is due
        (not waiting for answers)."""
        report = TickReport()
        await self._record()
        # Expiries are looked for once per poll, not at every look a finished send causes.
        expiries = self._next_expiry_look is None or now >= self._next_expiry_look
        if expiries:
            self._next_expiry_look = now + timedelta(seconds=self.poll_seconds)
        while True:
            if not expiries:
                async with transaction(self._read_sessions) as session:
                    if not await repository.has_unfanned(session):
                        break
            async with transaction(self._sessions) as session:
                made = await fan_out(session, now=now, limit=FANOUT_BATCH, expiries=expiries)
            expiries = False
            report.events += made.events
            report.made += made.deliveries
            if made.events < FANOUT_BATCH:
                break
        for delivery, subscription in await self._claim(now):
            task = asyncio.create_task(self._guarded(delivery, subscription, now))
            self._in_flight[task] = delivery
            task.add_done_callback(self._in_flight.pop)
            report.sent += 1
        return report

    def in_flight(self) -> Counter[uuid.UUID]:
        """How many deliveries are being sent now, per subscription."""
        return Counter(delivery.subscription_id for delivery in self._in_flight.values())

    async def drain(self) -> None:
        """Wait for every delivery in flight to be answered and recorded."""
        while self._in_flight:
            await asyncio.gather(*list(self._in_flight), return_exceptions=True)
        await self._record()

    async def _record(self) -> None:
        answered, self._answered = self._answered, []
        if not answered:
            return
        try:
            async with transaction(self._sessions) as session:
                await repository.record_attempts(session, answered)
        except BaseException:
            # Kept for the next look; meanwhile the deliveries stay leased.
            self._answered = answered + self._answered
            raise

    async def _claim(self, now: datetime) -> list[tuple[Delivery, Subscription]]:
        room = self.concurrency - len(self._in_flight)
        if room <= 0:
            return []
        async with transaction(self._read_sessions) as session:
            if not await repository.any_due(session, now=now):
                return []
        busy = self.in_flight()
        chosen: list[tuple[Delivery, Subscription]] = []
        async with transaction(self._sessions) as session:
            shares = {
                subscription_id: self._share(subscription_id) - busy[subscription_id]
                for subscription_id in await repository.live_subscription_ids(session)
            }
            due = await repository.due_deliveries(session, now=now, shares=shares, limit=room)
            for delivery in due:
                subscription = await repository.subscription(session, delivery.subscription_id)
                if subscription is None:
                    continue
                chosen.append((delivery, subscription))
            await repository.lease(session, [d.id for d, _ in chosen], until=now + self.lease)
        return chosen

    async def _guarded(self, delivery: Delivery, subscription: Subscription, now: datetime) -> None:
        try:
            await self._send(delivery, subscription, now)
        except Exception:  # its lease runs out and it is sent again: at least once
            logger.exception("webhook_delivery_crashed", delivery=str(delivery.id))

    async def _send(self, delivery: Delivery, subscription: Subscription, now: datetime) -> None:
        if self._directory is not None:
            try:
                # Judged at the wall clock's time, as the identity service's documents are.
                refused = await party_standing(self._directory, subscription, self._wall())
            except Exception:  # the identity service away past its staleness: try later
                refused = "identity_unavailable"
            if refused is not None:
                await self._failed(delivery, None, refused, now)
                return
        try:
            secret = unseal(self._key, subscription.secret_sealed, subscription_id=subscription.id)
        except SealError:
            logger.error("webhook_secret_unsealable", subscription=str(subscription.id))
            await self._failed(delivery, None, "secret_unsealable", now)
            return
        body = cloud_event(
            event_id=str(delivery.event_id),
            event_type=delivery.event_type,
            source=self.source,
            subject=str(delivery.release_id) if delivery.release_id else None,
            time=delivery.occurred_at,
            data=delivery.payload,
        )
        headers = signed_headers(
            secret, message_id=str(delivery.id), timestamp=self._wall(), body=body
        )
        headers["content-type"] = CONTENT_TYPE
        result = await self._sender.post(subscription.url, headers, body)
        if result.ok:
            self._answer(
                repository.Attempt(
                    delivery_id=delivery.id,
                    subscription_id=delivery.subscription_id,
                    at=now,
                    delivered=True,
                    status_code=result.status_code,
                    error=None,
                    next_attempt_at=None,
                )
            )
            return
        await self._failed(delivery, result.status_code, result.error or "status", now)

    def _share(self, subscription_id: uuid.UUID) -> int:
        """How many sends a subscription may have in flight: one while its latest failed."""
        return 1 if subscription_id in self._struggling else self.per_subscription

    def _answer(self, attempt: repository.Attempt) -> None:
        self._answered.append(attempt)
        metrics.webhook_attempted(
            delivered=attempt.delivered,
            given_up=not attempt.delivered and attempt.next_attempt_at is None,
        )
        if attempt.delivered:
            self._struggling.discard(attempt.subscription_id)
        else:
            self._struggling.add(attempt.subscription_id)
        self._woken.set()

    async def _failed(
        self, delivery: Delivery, status_code: int | None, error: str, now: datetime
    ) -> None:
        attempts = delivery.attempts + 1
        give_up_at = delivery.retry_since + timedelta(seconds=self.backoff.give_up_seconds)
        next_at = now + self.backoff.delay(attempts)
        self._answer(
            repository.Attempt(
                delivery_id=delivery.id,
                subscription_id=delivery.subscription_id,
                at=now,
                delivered=False,
                status_code=status_code,
                error=error,
                next_attempt_at=None if now >= give_up_at else min(next_at, give_up_at),
            )
        )
        logger.info(
            "webhook_delivery_failed",
            delivery=str(delivery.id),
            status_code=status_code,
            error=error,
            given_up=now >= give_up_at,
        )

    @property
    def leading(self) -> bool:
        """Whether this dispatcher held the lead at its latest look."""
        return self._lead_until is not None

    async def _leads(self, now: datetime) -> bool:
        """Whether this dispatcher leads now: a leader renews its lead every
        `LEAD_RENEW_SECONDS`, a follower asks for it as often (and gets it once it is free
        or has run out)."""
        if self._next_lead_look is not None and now < self._next_lead_look:
            return self._lead_until is not None and now < self._lead_until
        until = now + timedelta(seconds=self.lead_seconds)
        self.lead_asks += 1
        async with transaction(self._sessions) as session:
            leads = await repository.take_lead(session, holder=self.holder, now=now, until=until)
        self._lead_until = until if leads else None
        self._next_lead_look = now + timedelta(seconds=self.lead_renew_seconds)
        if leads:
            logger.debug("webhook_dispatcher_leads", holder=self.holder)
        return leads

    async def run(self) -> None:
        """While this dispatcher leads (one per deployment: `_leads`), look every
        `poll_seconds`, and at once when a send is answered (its slot is free), until
        cancelled; a failing look is logged, not fatal."""
        while True:
            self._woken.clear()
            try:
                now = utcnow()
                if await self._leads(now):
                    self.looks += 1
                    await self.tick(now)
                else:
                    await self._record()  # what it sent while it led
            except Exception:  # the next look tries again; the outbox keeps everything
                logger.exception("webhook_dispatch_failed")
            with suppress(TimeoutError):
                async with asyncio.timeout(self.poll_seconds):
                    await self._woken.wait()
            if self._woken.is_set():
                # Answers come in bursts: gather them a moment, so that one look records
                # and refills many (each look is a few statements, whatever it handles).
                await asyncio.sleep(GATHER_SECONDS)

    async def close(self) -> None:
        """Let deliveries in flight finish (each bounded by its timeout), hand the lead
        over, then close."""
        await self.drain()
        if self._lead_until is not None:
            self._lead_until = None
            try:
                async with transaction(self._sessions) as session:
                    await repository.give_up_lead(session, holder=self.holder, now=utcnow())
            except Exception:  # the lead runs out by itself
                logger.warning("webhook_lead_not_handed_over", holder=self.holder)
        await self._sender.aclose()


def start(app: FastAPI, settings: ReleaseSettings) -> None:
    """Give the app its dispatcher, running where background work runs (`run_webhooks`)."""
    dispatcher = Dispatcher.of(
        app.state.sessions, settings, app.state.identity_directory, app.state.read_sessions
    )
    app.state.webhook_dispatcher = dispatcher
    run = settings.run_sequencer if settings.run_webhooks is None else settings.run_webhooks
    app.state.webhook_task = (
        asyncio.create_task(dispatcher.run()) if run and dispatcher is not None else None
    )


async def stop(app: FastAPI) -> None:
    """Stop the app's dispatcher."""
    task: asyncio.Task[None] | None = getattr(app.state, "webhook_task", None)
    if task is not None:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task
    dispatcher: Dispatcher | None = getattr(app.state, "webhook_dispatcher", None)
    if dispatcher is not None:
        await dispatcher.close()
