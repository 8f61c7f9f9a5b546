"""SQL of webhooks: subscriptions scoped to their party, the outbox queue, deliveries.

`party_subscription` is the one place that scopes a subscription to the caller's party: a
subscription of another party, or a deleted one, is not found (404 as if unknown).
"""

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    and_,
    delete,
    exists,
    func,
    insert,
    or_,
    text,
    union_all,
    update,
)
from sqlalchemy.orm import aliased
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.release.auth import Caller
from services.release.releases.models import Hold, Release, ReleaseStatus
from services.release.releases.repository import visible_to
from services.release.webhooks.events import RELEASE_EXPIRED
from services.release.webhooks.models import (
    Delivery,
    DeliveryStatus,
    DispatcherLead,
    OutboxEvent,
    Subscription,
    SubscriptionStatus,
)
from shared.db import insert_once

# The fan-out's advisory lock on PostgreSQL (one fan-out at a time keeps deliveries made in
# event order); SQLite's write lock is one already.
FANOUT_LOCK = 0x6B70_7768  # "kpwh"
LIVE = (SubscriptionStatus.active, SubscriptionStatus.failing)
# The most deliveries one replay request sends again.
REPLAY_LIMIT = 1000


def add_subscription(session: AsyncSession, subscription: Subscription) -> None:
    """Store a new subscription (written with the transaction)."""
    session.add(subscription)


async def party_subscription(
    session: AsyncSession, party_id: str, subscription_id: uuid.UUID
) -> Subscription | None:
    """The party's own subscription, unless deleted."""
    statement = select(Subscription).where(
        col(Subscription.id) == subscription_id,
        col(Subscription.party_id) == party_id,
        col(Subscription.status).in_(LIVE),
    )
    return (await session.exec(statement)).first()


async def party_subscriptions(session: AsyncSession, party_id: str) -> Sequence[Subscription]:
    """The party's subscriptions, oldest first (deleted ones left out)."""
    statement = (
        select(Subscription)
        .where(col(Subscription.party_id) == party_id, col(Subscription.status).in_(LIVE))
        .order_by(col(Subscription.created_at), col(Subscription.id))
    )
    return (await session.exec(statement)).all()


async def live_subscriptions(session: AsyncSession) -> Sequence[Subscription]:
    """Every subscription that is not deleted (the fan-out filters by type and reads)."""
    statement = select(Subscription).where(col(Subscription.status).in_(LIVE))
    return (await session.exec(statement)).all()


async def subscription(session: AsyncSession, subscription_id: uuid.UUID) -> Subscription | None:
    """A subscription by id, whoever's (the dispatcher's)."""
    return await session.get(Subscription, subscription_id)


async def take_fanout_lock(session: AsyncSession) -> bool:
    """One fan-out at a time across processes (PostgreSQL advisory lock, this transaction)."""
    if session.get_bind().dialect.name != "postgresql":
        return True
    result = await session.exec(  # type: ignore[call-overload]
        text("SELECT pg_try_advisory_xact_lock(:key)"), params={"key": FANOUT_LOCK}
    )
    return bool(result.scalar_one())


async def expired_unannounced(
    session: AsyncSession, *, now: datetime, since: datetime, limit: int
) -> Sequence[uuid.UUID]:
    """Releases that ran out in (since, now] (still open, or closed as expired when a new
    release of the container was made) and whose expiry is not in the outbox yet."""
    announced = exists().where(
        col(OutboxEvent.release_id) == col(Release.id),
        col(OutboxEvent.event_type) == RELEASE_EXPIRED.type,
    )
    statement = (
        select(Release.id)
        .where(
            col(Release.status).in_((ReleaseStatus.open, ReleaseStatus.expired)),
            col(Release.valid_until) <= now,
            col(Release.valid_until) > since,
            ~announced,
        )
        .order_by(col(Release.valid_until))
        .limit(limit)
    )
    return (await session.exec(statement)).all()


async def releases_of(
    session: AsyncSession, release_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Release]:
    """Several releases by id, in one statement."""
    if not release_ids:
        return {}
    statement = select(Release).where(col(Release.id).in_(release_ids))
    return {release.id: release for release in (await session.exec(statement)).all()}


async def visible_among(
    session: AsyncSession, caller: Caller, release_ids: Sequence[uuid.UUID]
) -> set[uuid.UUID]:
    """Which of these releases the caller may read, by the releases' own rule (`visible_to`),
    in one statement."""
    if not release_ids:
        return set()
    statement = select(Release.id).where(col(Release.id).in_(release_ids), visible_to(caller))
    return set((await session.exec(statement)).all())


async def holds_of(
    session: AsyncSession, release_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[Hold]]:
    """The holds of several releases, in one statement."""
    found: dict[uuid.UUID, list[Hold]] = {release_id: [] for release_id in release_ids}
    if not found:
        return found
    statement = select(Hold).where(col(Hold.release_id).in_(found)).order_by(col(Hold.kind))
    for hold in (await session.exec(statement)).all():
        found[hold.release_id].append(hold)
    return found


async def delete_fanned_out(session: AsyncSession, *, before: datetime) -> int:
    """Delete outbox events fanned out before `before` (their deliveries hold all they say)."""
    result = await session.exec(
        delete(OutboxEvent).where(
            col(OutboxEvent.fanned_out_at).is_not(None), col(OutboxEvent.fanned_out_at) < before
        )
    )
    return int(result.rowcount or 0)


async def has_unfanned(session: AsyncSession) -> bool:
    """Whether any outbox event waits for its fan-out (a read, before taking a write lock)."""
    statement = select(OutboxEvent.id).where(col(OutboxEvent.fanned_out_at).is_(None)).limit(1)
    return (await session.exec(statement)).first() is not None


async def any_due(session: AsyncSession, *, now: datetime) -> bool:
    """Whether any delivery may be due now (a read, before taking a write lock)."""
    statement = (
        select(Delivery.id)
        .where(
            col(Delivery.status) == DeliveryStatus.pending,
            col(Delivery.next_attempt_at) <= now,
            or_(col(Delivery.lease_until).is_(None), col(Delivery.lease_until) <= now),
        )
        .limit(1)
    )
    return (await session.exec(statement)).first() is not None


async def unfanned(session: AsyncSession, limit: int) -> Sequence[OutboxEvent]:
    """Outbox rows not fanned out yet, in event order."""
    statement = (
        select(OutboxEvent)
        .where(col(OutboxEvent.fanned_out_at).is_(None))
        .order_by(col(OutboxEvent.id))
        .limit(limit)
    )
    return (await session.exec(statement)).all()


async def add_deliveries(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Store deliveries to be made, in one statement (a fan-out makes hundreds at once: rows,
    not ORM objects, whose bookkeeping cost more than the insert)."""
    if rows:
        await session.exec(insert(Delivery), params=list(rows))


async def mark_fanned_out(session: AsyncSession, event_ids: Sequence[int], now: datetime) -> None:
    """The outbox rows' deliveries are made."""
    if event_ids:
        await session.exec(
            update(OutboxEvent).where(col(OutboxEvent.id).in_(event_ids)).values(fanned_out_at=now)
        )


def _earlier_pending() -> ColumnElement[bool]:
    """A delivery of the same subscription and release, earlier in event order, not yet
    delivered or given up: the later one waits for it."""
    earlier = aliased(Delivery)
    return exists().where(
        col(earlier.subscription_id) == col(Delivery.subscription_id),
        col(earlier.release_id) == col(Delivery.release_id),
        col(earlier.outbox_id) < col(Delivery.outbox_id),
        col(earlier.status) == DeliveryStatus.pending,
    )


def _earlier_unfanned() -> ColumnElement[bool]:
    """An event of the same release, earlier in order, not yet fanned out."""
    return exists().where(
        col(OutboxEvent.release_id) == col(Delivery.release_id),
        col(OutboxEvent.id) < col(Delivery.outbox_id),
        col(OutboxEvent.fanned_out_at).is_(None),
    )


async def live_subscription_ids(session: AsyncSession) -> list[uuid.UUID]:
    """The ids of every subscription not deleted."""
    statement = select(Subscription.id).where(col(Subscription.status).in_(LIVE))
    return list((await session.exec(statement)).all())


async def due_deliveries(
    session: AsyncSession, *, now: datetime, shares: Mapping[uuid.UUID, int], limit: int
) -> Sequence[Delivery]:
    """Pending deliveries due now, not leased, not waiting for an earlier one of their
    subscription and release: at most `shares[s]` of each subscription `s`, its oldest,
    and at most `limit` in all, oldest first; locked, skipping rows another dispatcher holds
    (PostgreSQL).

    Each subscription's queue is read apart (one short scan of `ix_webhook_deliveries_queue`
    each, in one statement), so a subscriber with a backlog (one that never answers piles up
    due deliveries) neither fills the window and starves the others, nor makes every claim
    read its whole backlog.
    """
    due = [
        col(Delivery.status) == DeliveryStatus.pending,
        col(Delivery.next_attempt_at) <= now,
        or_(col(Delivery.lease_until).is_(None), col(Delivery.lease_until) <= now),
    ]
    in_order = or_(
        col(Delivery.release_id).is_(None), and_(~_earlier_pending(), ~_earlier_unfanned())
    )
    queues = [
        select(col(Delivery.id).label("id"))
        .where(col(Delivery.subscription_id) == subscription_id, *due, in_order)
        .order_by(col(Delivery.next_attempt_at), col(Delivery.outbox_id))
        .limit(share)
        .subquery()
        for subscription_id, share in shares.items()
        if share > 0
    ]
    if not queues:
        return []
    # Each queue is wrapped in a subquery of its own: SQLite allows no LIMIT on a member
    # of a compound select.
    chosen = union_all(*(select(queue.c.id) for queue in queues))
    statement = (
        select(Delivery)
        .where(col(Delivery.id).in_(chosen), *due)
        .order_by(col(Delivery.next_attempt_at), col(Delivery.outbox_id))
        .limit(limit)
        .with_for_update(skip_locked=True, of=Delivery)
    )
    return (await session.exec(statement)).all()


async def lease(
    session: AsyncSession, delivery_ids: Sequence[uuid.UUID], *, until: datetime
) -> None:
    """Hold these deliveries for this dispatcher until `until`."""
    if delivery_ids:
        await session.exec(
            update(Delivery).where(col(Delivery.id).in_(delivery_ids)).values(lease_until=until)
        )


async def delivery(session: AsyncSession, delivery_id: uuid.UUID) -> Delivery | None:
    """A delivery by id."""
    return await session.get(Delivery, delivery_id)


async def subscription_deliveries(
    session: AsyncSession,
    subscription_id: uuid.UUID,
    *,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> Sequence[Delivery]:
    """A subscription's deliveries, oldest first, after the row `after`."""
    statement = select(Delivery).where(col(Delivery.subscription_id) == subscription_id)
    if after is not None:
        at, last_id = after
        statement = statement.where(
            (col(Delivery.created_at) > at)
            | ((col(Delivery.created_at) == at) & (col(Delivery.id) > last_id))
        )
    statement = statement.order_by(col(Delivery.created_at), col(Delivery.id)).limit(limit)
    return (await session.exec(statement)).all()


async def subscription_delivery(
    session: AsyncSession, subscription_id: uuid.UUID, delivery_id: uuid.UUID
) -> Delivery | None:
    """One delivery of a subscription."""
    statement = select(Delivery).where(
        col(Delivery.id) == delivery_id, col(Delivery.subscription_id) == subscription_id
    )
    return (await session.exec(statement)).first()


async def deliveries_since(
    session: AsyncSession, subscription_id: uuid.UUID, since: datetime
) -> Sequence[Delivery]:
    """A subscription's deliveries of events since a moment, in event order."""
    statement = (
        select(Delivery)
        .where(
            col(Delivery.subscription_id) == subscription_id,
            col(Delivery.occurred_at) >= since,
            col(Delivery.status) != DeliveryStatus.pending,
        )
        .order_by(col(Delivery.outbox_id))
        .limit(REPLAY_LIMIT)
    )
    return (await session.exec(statement)).all()


@dataclass(frozen=True)
class Told:
    """One delivered event: which party's subscription was told what, when."""

    party_id: str
    subscription_id: uuid.UUID
    event_type: str
    release_id: uuid.UUID
    delivered_at: datetime


async def deliveries_about(
    session: AsyncSession, *, release_ids: list[uuid.UUID], since: datetime, until: datetime
) -> list[Told]:
    """Who was told of these releases: every delivery made in [since, until), oldest first.

    For "who knew?": a delivery counts at its first success (a replay tells nothing new).
    """
    if not release_ids:
        return []
    statement = (
        select(Delivery)
        .where(
            col(Delivery.release_id).in_(release_ids),
            col(Delivery.first_delivered_at).is_not(None),
            col(Delivery.first_delivered_at) >= since,
            col(Delivery.first_delivered_at) < until,
        )
        .order_by(col(Delivery.first_delivered_at), col(Delivery.id))
    )
    return [
        Told(
            party_id=row.party_id,
            subscription_id=row.subscription_id,
            event_type=row.event_type,
            release_id=row.release_id,
            delivered_at=row.first_delivered_at,
        )
        for row in (await session.exec(statement)).all()
        if row.release_id is not None and row.first_delivered_at is not None
    ]


@dataclass(frozen=True)
class Attempt:
    """How one send went, to be recorded: delivered, tried again at `next_attempt_at`, or
    (neither) given up."""

    delivery_id: uuid.UUID
    subscription_id: uuid.UUID
    at: datetime
    delivered: bool
    status_code: int | None
    error: str | None
    next_attempt_at: datetime | None


async def record_attempts(session: AsyncSession, attempts: Sequence[Attempt]) -> None:
    """Record sends (no reads; one statement per kind of outcome, so a look that saw a
    hundred deliveries answered 204 at the same moment writes them in one); a subscription
    with a delivery given up becomes `failing`, one with a delivery delivered `active` again."""
    recovered: set[uuid.UUID] = set()
    given_up: set[uuid.UUID] = set()
    alike: dict[tuple[bool, datetime, int | None, str | None, datetime | None], list[uuid.UUID]]
    alike = {}
    for attempt in attempts:
        error = attempt.error[:40] if attempt.error else None
        outcome = (
            attempt.delivered,
            attempt.at,
            attempt.status_code,
            error,
            attempt.next_attempt_at,
        )
        alike.setdefault(outcome, []).append(attempt.delivery_id)
        if attempt.delivered:
            recovered.add(attempt.subscription_id)
        elif attempt.next_attempt_at is None:
            given_up.add(attempt.subscription_id)
    for (delivered, at, status_code, error, next_attempt_at), delivery_ids in alike.items():
        values: dict[str, object] = {
            "attempts": col(Delivery.attempts) + 1,
            "last_attempt_at": at,
            "last_status_code": status_code,
            "last_error": error,
            "lease_until": None,
        }
        if delivered:
            values |= {
                "status": DeliveryStatus.delivered,
                "delivered_at": at,
                "first_delivered_at": func.coalesce(col(Delivery.first_delivered_at), at),
            }
        elif next_attempt_at is not None:
            values["next_attempt_at"] = next_attempt_at
        else:
            values["status"] = DeliveryStatus.failed
        await session.exec(
            update(Delivery).where(col(Delivery.id).in_(delivery_ids)).values(**values)
        )
    moment = max((attempt.at for attempt in attempts), default=None)
    if given_up:
        await session.exec(
            update(Subscription)
            .where(
                col(Subscription.id).in_(given_up),
                col(Subscription.status) == SubscriptionStatus.active,
            )
            .values(status=SubscriptionStatus.failing, failing_since=moment)
        )
    if recovered:
        await session.exec(
            update(Subscription)
            .where(
                col(Subscription.id).in_(recovered),
                col(Subscription.status) == SubscriptionStatus.failing,
            )
            .values(status=SubscriptionStatus.active, failing_since=None)
        )


def replay(delivery: Delivery, *, now: datetime) -> None:
    """Send a delivered or given-up delivery again (same id), as soon as its turn comes."""
    delivery.status = DeliveryStatus.pending
    delivery.next_attempt_at = now
    delivery.retry_since = now
    delivery.lease_until = None
    delivery.replays += 1


LEAD = "dispatcher"


async def take_lead(session: AsyncSession, *, holder: str, now: datetime, until: datetime) -> bool:
    """Hold the dispatchers' lead until `until`, if it is free, run out, or `holder`'s own
    already (a renewal); True if `holder` leads now."""
    if await insert_once(session, DispatcherLead, name=LEAD, holder=holder, until=until):
        return True
    result = await session.exec(
        update(DispatcherLead)
        .where(
            col(DispatcherLead.name) == LEAD,
            or_(col(DispatcherLead.holder) == holder, col(DispatcherLead.until) <= now),
        )
        .values(holder=holder, until=until)
    )
    return bool(result.rowcount)


async def give_up_lead(session: AsyncSession, *, holder: str, now: datetime) -> None:
    """End `holder`'s lead now (a process stopping), so another takes over at once."""
    await session.exec(
        update(DispatcherLead)
        .where(col(DispatcherLead.name) == LEAD, col(DispatcherLead.holder) == holder)
        .values(until=now)
    )
