"""The fan-out: each outbox event becomes one delivery per subscription that may be told.

A subscription is told of an event when (a) it wants the event's type and (b) its party may
know of it now, by the same rules its reads follow (`events.py` says which audience each
type has). Those rules are not written again here: a release is judged with the release
service's own `releases.repository.visible_to`, for the subscribing party as its API client,
and the payload about a release is `releases.service.view` for that party: no more than its
`GET /v1/releases/{id}` would show it at that moment.

A batch of events is judged together: its releases, their links and holds are read once,
and each subscribing party's right to read them is one statement for the whole batch, so
the cost grows with the parties subscribed, not with events times subscriptions.

Judged at fan-out, shortly after the change commits. A party that the change itself takes
out of the release (a declined or withdrawn step, a cancelled release whose links are all
withdrawn) can no longer read it, and so is not told: its next read answers 404, as for
anything it may not see.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from services.release.auth import Caller
from services.release.chain import repository as chain_repository
from services.release.chain.models import Link
from services.release.releases import service as release_views
from services.release.releases.models import Hold, Release
from services.release.releases.repository import OVERSEERS
from services.release.webhooks import outbox, repository
from services.release.webhooks.events import CATALOGUE, RELEASE_EXPIRED, Audience
from services.release.webhooks.models import OutboxEvent, Subscription
from shared.auth import Principal

EXPIRY_LOOKBACK = timedelta(days=7)


def party_caller(party_id: str, roles: frozenset[str]) -> Caller:
    """The subscribing party as its own API client reading releases (no token: it is not
    sent anywhere)."""
    return Caller(
        Principal(party_id=party_id, party_roles=roles, scopes=frozenset({"releases:read"})),
        token="",
    )


@dataclass
class FanoutReport:
    """What one fan-out made."""

    events: int = 0
    deliveries: int = 0


class _Batch:
    """What a batch of events needs to judge and show their releases, read once for the
    whole batch: the releases, their live links and holds, and for each subscribing party
    which of them it may read (one statement per party, by the releases' own rule)."""

    def __init__(self, session: AsyncSession, now: datetime) -> None:
        self._session = session
        self._now = now
        self.releases: dict[uuid.UUID, Release] = {}
        self._links: dict[uuid.UUID, list[Link]] = {}
        self._holds: dict[uuid.UUID, list[Hold]] = {}
        self._visible: dict[tuple[str, frozenset[str]], set[uuid.UUID]] = {}
        self._views: dict[tuple[str, frozenset[str], uuid.UUID], dict[str, Any]] = {}

    async def load(self, release_ids: list[uuid.UUID]) -> None:
        """Read the releases of the batch with their links and holds."""
        self.releases = await repository.releases_of(self._session, release_ids)
        self._links = await chain_repository.live_links_of(self._session, release_ids)
        self._holds = await repository.holds_of(self._session, release_ids)

    async def view(
        self, party: str, roles: frozenset[str], release: Release
    ) -> dict[str, Any] | None:
        """The release as the party's read shows it now, or None if it may not read it."""
        # Readers: as the party reads the release, but not in an overseer's role (events.py).
        reader_roles = roles - set(OVERSEERS)
        key = (party, reader_roles)
        reader = party_caller(party, reader_roles)
        if key not in self._visible:
            self._visible[key] = await repository.visible_among(
                self._session, reader, list(self.releases)
            )
        if release.id not in self._visible[key]:
            return None
        cached = self._views.get((party, reader_roles, release.id))
        if cached is None:
            shown = release_views.view(
                reader,
                release,
                links=self._links.get(release.id, []),
                holds=self._holds.get(release.id, []),
                now=self._now,
            )
            cached = shown.model_dump(mode="json", by_alias=True)
            self._views[(party, reader_roles, release.id)] = cached
        return cached


async def _payload(
    batch: _Batch,
    event: OutboxEvent,
    audience: Audience,
    subscription: Subscription,
) -> dict[str, Any] | None:
    """What this subscription's party is told of the event, or None if it may not know."""
    roles = frozenset(subscription.party_roles)
    party = subscription.party_id
    if audience == Audience.port_security:
        return dict(event.facts) if "port_security" in roles else None
    release = batch.releases.get(event.release_id) if event.release_id else None
    if release is None:
        return None
    if audience == Audience.inspection:
        oversees = any(role in roles for role in OVERSEERS)
        own_terminal = "terminal" in roles and release.terminal_id == party
        return dict(event.facts) if oversees or own_terminal else None
    if audience == Audience.terminal:
        own_terminal = "terminal" in roles and release.terminal_id == party
        return dict(event.facts) if own_terminal else None
    view = await batch.view(party, roles, release)
    if view is None:
        return None
    return {"release": view, "change": dict(event.facts)}


async def announce_expiries(session: AsyncSession, *, now: datetime, limit: int = 100) -> int:
    """Put each release that ran out of validity lately in the outbox (once).

    An expiry is no change anyone makes: the release passes its `valid_until`. So it is
    looked for here, at most `EXPIRY_LOOKBACK` back (a dispatcher down longer than that
    announces no older expiry).
    """
    expired = await repository.expired_unannounced(
        session, now=now, since=now - EXPIRY_LOOKBACK, limit=limit
    )
    for release_id in expired:
        outbox.record(session, RELEASE_EXPIRED, release_id=release_id, now=now)
    if expired:
        await session.flush()
    return len(expired)


async def forget_fanned_out(*, session: AsyncSession, now: datetime) -> int:
    """Housekeeping: drop outbox events fanned out more than `EXPIRY_LOOKBACK` and a day ago
    (kept that long, the expiry look still finds each expiry it announced)."""
    return await repository.delete_fanned_out(
        session, before=now - EXPIRY_LOOKBACK - timedelta(days=1)
    )


async def fan_out(
    session: AsyncSession, *, now: datetime, limit: int = 100, expiries: bool = True
) -> FanoutReport:
    """Make the deliveries of up to `limit` outbox events, in event order, in the caller's
    transaction (first looking for expiries, with `expiries`); nothing when another process
    is fanning out (PostgreSQL)."""
    report = FanoutReport()
    if not await repository.take_fanout_lock(session):
        return report
    if expiries:
        await announce_expiries(session, now=now)
    events = await repository.unfanned(session, limit)
    if not events:
        return report
    subscriptions = await repository.live_subscriptions(session)
    batch = _Batch(session, now)
    if subscriptions:
        await batch.load(sorted({e.release_id for e in events if e.release_id is not None}))
    rows: list[dict[str, Any]] = []
    for event in events:
        report.events += 1
        kind = CATALOGUE.get(event.event_type)
        wanting = [s for s in subscriptions if event.event_type in s.event_types]
        if kind is None or not wanting:
            continue
        for subscription in wanting:
            payload = await _payload(batch, event, kind.audience, subscription)
            if payload is None:
                continue
            assert event.id is not None
            rows.append(
                {
                    "id": uuid.uuid4(),
                    "subscription_id": subscription.id,
                    "party_id": subscription.party_id,
                    "outbox_id": event.id,
                    "event_id": event.event_id,
                    "event_type": event.event_type,
                    "release_id": event.release_id,
                    "occurred_at": event.occurred_at,
                    "payload": payload,
                    "next_attempt_at": now,
                    "retry_since": now,
                    "created_at": now,
                }
            )
    await repository.add_deliveries(session, rows)
    report.deliveries = len(rows)
    await repository.mark_fanned_out(session, [e.id for e in events if e.id is not None], now)
    return report
