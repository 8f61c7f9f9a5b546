""" "Who knew?" for one container: every read of its releases, chains, holds and inspections,
and everyone the chain, the gate or an inspection told of it, marked before or after the
pickup.

A bribed insider's tell is a look-up before the crime: the access log holds every read (with
the endpoint it came through), and the release service's own records say who was told
without asking (the parties who signed or received a link, the terminal that asked the gate,
the officer who recorded an inspection), and the alerts that name the container told port
security (raised, acknowledged and closed by whom; each officer who opened such an alert is
a read in the access log), and every webhook delivery about one of its releases told the
subscribing party (at its first arrival; a replay tells nothing new).

The answer is built from one container's rows in the period, sorted, and cut into pages by a
keyset cursor over (moment, entry key): a container's history is small, and one reading of
it keeps a page from repeating or skipping an entry.
"""

import bisect
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from services.release.investigations import repository
from services.release.investigations.schemas import Knowledge, Pickup, Relative, Source, WhoKnew
from services.release.webhooks.repository import deliveries_about

_KEYS = uuid.UUID("5d4a0f1e-6b1c-4c52-9a2b-7f0e3c1d2a10")
# The routes through which the stored records told someone (docs/access-log.md).
MADE_BY = {
    "release.made": "POST /v1/releases",
    "link.signed": "POST /v1/releases/{release_id}/links",
    "link.received": "POST /v1/releases/{release_id}/links",
    "link.accepted": "POST /v1/releases/{release_id}/links/{seq}/accept",
    "link.declined": "POST /v1/releases/{release_id}/links/{seq}/decline",
    "gate.asked": "POST /v1/gate/decisions",
    "gate.completed": "POST /v1/gate/decisions/{decision_id}/complete",
    "hold.placed": "PUT /v1/releases/{release_id}/holds/{kind}",
    "inspection.outcome": "POST /v1/inspections/{inspection_id}/outcome",
    "inspection.cancel_requested": "POST /v1/inspections/{inspection_id}/cancel",
    "alert.raised": "GET /v1/alerts/stream",
    "alert.acknowledged": "POST /v1/alerts/{alert_id}/acknowledge",
    "alert.closed": "POST /v1/alerts/{alert_id}/close",
}
#: Bounds of a period left open, for the deliveries' query.
_EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
_LATEST = datetime(9999, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class _Fact:
    """One entry before it is placed against the pickups."""

    key: uuid.UUID
    at: datetime
    source: Source
    action: str
    actor: str | None
    party_id: str | None
    person_id: uuid.UUID | None
    endpoint: str | None
    outcome: str | None
    release_id: uuid.UUID | None


def _person(actor: str | None) -> uuid.UUID | None:
    if actor and actor.startswith("person:"):
        try:
            return uuid.UUID(actor.removeprefix("person:"))
        except ValueError:
            return None
    return None


def _party(actor: str | None, fallback: str | None = None) -> str | None:
    if actor and actor.startswith("client:"):
        return actor.removeprefix("client:")
    return fallback


class _Facts:
    """The entries of one container, gathered source by source."""

    def __init__(self) -> None:
        self.found: list[_Fact] = []

    def add(
        self,
        ident: object,
        at: datetime | None,
        source: Source,
        action: str,
        *,
        actor: str | None,
        party_id: str | None,
        release_id: uuid.UUID | None,
        outcome: str | None = None,
        person_id: uuid.UUID | None = None,
        endpoint: str | None = None,
    ) -> None:
        """One entry; none when the record has no moment for it."""
        if at is None:
            return
        self.found.append(
            _Fact(
                key=uuid.uuid5(_KEYS, f"{source}|{ident}|{action}"),
                at=at,
                source=source,
                action=action,
                actor=actor,
                party_id=_party(actor, party_id),
                person_id=person_id or _person(actor),
                endpoint=endpoint or MADE_BY.get(action),
                outcome=outcome,
                release_id=release_id,
            )
        )


async def _gather(
    session: AsyncSession,
    container: str,
    release_ids: list[uuid.UUID],
    *,
    since: datetime | None,
    until: datetime | None,
) -> list[_Fact]:
    facts = _Facts()
    for read in await repository.reads_of(
        session, container=container, release_ids=release_ids, since=since, until=until
    ):
        facts.add(
            read.id,
            read.at,
            "access_log",
            read.action,
            actor=read.actor,
            party_id=read.party_id,
            person_id=read.person_id,
            endpoint=read.endpoint,
            outcome=read.outcome,
            release_id=read.release_id,
        )
    for release in await repository.releases_of(session, container):
        facts.add(
            release.id,
            release.created_at,
            "release",
            "release.made",
            actor=release.created_by,
            party_id=release.shipping_line_id,
            release_id=release.id,
        )
    for link in await repository.links_of(session, release_ids):
        facts.add(
            link.id,
            link.created_at,
            "chain",
            "link.signed",
            actor=link.submitted_by,
            party_id=link.from_party,
            release_id=link.release_id,
            outcome=link.kind,
        )
        # The receiver knew from the moment the link was made: it is in his work list.
        driver = _person(f"person:{link.to}") if link.kind == "assignment" else None
        facts.add(
            link.id,
            link.created_at,
            "chain",
            "link.received",
            actor=f"person:{driver}" if driver else None,
            party_id=link.receiver_party,
            release_id=link.release_id,
            outcome=link.kind,
        )
        if link.decided_by is not None and link.status in ("accepted", "declined"):
            facts.add(
                link.id,
                link.decided_at,
                "chain",
                f"link.{link.status}",
                actor=link.decided_by,
                party_id=link.receiver_party,
                release_id=link.release_id,
                outcome=link.kind,
            )
    for decision in await repository.decisions_of(session, container):
        facts.add(
            decision.id,
            decision.decided_at,
            "gate",
            "gate.asked",
            actor=decision.decided_by,
            party_id=decision.terminal_id,
            release_id=decision.release_id,
            outcome=decision.decision,
        )
    for gate_out in await repository.gate_outs_of(session, release_ids):
        facts.add(
            gate_out.decision_id,
            gate_out.completed_at,
            "gate",
            "gate.completed",
            actor=gate_out.completed_by,
            party_id=None,
            release_id=gate_out.release_id,
        )
    for hold in await repository.holds_of(session, release_ids):
        facts.add(
            f"{hold.release_id}|{hold.kind}",
            hold.placed_at,
            "hold",
            "hold.placed",
            actor=hold.placed_by,
            party_id=hold.placed_by_party,
            release_id=hold.release_id,
            outcome=hold.kind,
        )
    for inspection in await repository.inspections_of(session, container):
        if inspection.closed_by is not None:
            facts.add(
                inspection.id,
                inspection.closed_at,
                "inspection",
                "inspection.outcome",
                actor=inspection.closed_by,
                party_id=None,
                release_id=inspection.release_id,
                outcome=inspection.status,
            )
        if inspection.cancel_requested_by is not None:
            facts.add(
                inspection.id,
                inspection.cancel_requested_at,
                "inspection",
                "inspection.cancel_requested",
                actor=inspection.cancel_requested_by,
                party_id=None,
                release_id=inspection.release_id,
                outcome=inspection.cancel_reason,
            )
    for alert in await repository.alerts_naming(session, container):
        release_id = _release_named(alert.facts, release_ids)
        facts.add(
            alert.id,
            alert.raised_at,
            "alert",
            "alert.raised",
            actor=None,
            party_id=None,
            release_id=release_id,
            outcome=alert.kind,
        )
        for action, actor, at in (
            ("alert.acknowledged", alert.acknowledged_by, alert.acknowledged_at),
            ("alert.closed", alert.closed_by, alert.closed_at),
        ):
            if actor is not None:
                facts.add(
                    alert.id,
                    at,
                    "alert",
                    action,
                    actor=actor,
                    party_id=None,
                    release_id=release_id,
                    outcome=alert.kind,
                )
    told = await deliveries_about(
        session, release_ids=release_ids, since=since or _EARLIEST, until=until or _LATEST
    )
    for delivery in told:
        facts.add(
            f"{delivery.subscription_id}|{delivery.event_type}|{delivery.delivered_at}",
            delivery.delivered_at,
            "event",
            "event.delivered",
            actor=None,
            party_id=delivery.party_id,
            release_id=delivery.release_id,
            outcome=delivery.event_type,
        )
    return [
        fact
        for fact in facts.found
        if (since is None or fact.at >= since) and (until is None or fact.at < until)
    ]


def _release_named(facts: dict[str, object], release_ids: list[uuid.UUID]) -> uuid.UUID | None:
    """The container's release an alert's facts name (`release_id`), if any."""
    named = facts.get("release_id")
    return next((r for r in release_ids if str(r) == named), None)


class _Pickups:
    """The container's gate-outs, to place an entry before or after."""

    def __init__(self, pickups: list[Pickup]) -> None:
        self.by_release = {pickup.release_id: pickup.at for pickup in pickups}
        self.times = sorted(pickup.at for pickup in pickups)

    def relative(self, fact: _Fact) -> Relative:
        """Before or after its release's pickup, else the container's next one."""
        own = self.by_release.get(fact.release_id) if fact.release_id else None
        if own is not None:
            return "before" if fact.at < own else "after"
        if bisect.bisect_right(self.times, fact.at) < len(self.times):
            return "before"
        return "after" if self.times else "none"


async def who_knew(
    session: AsyncSession,
    *,
    container: str,
    since: datetime | None,
    until: datetime | None,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> tuple[WhoKnew, _Fact | None]:
    """A page of the container's entries in [since, until), oldest first, and the last entry
    of the page when there are more."""
    releases = await repository.releases_of(session, container)
    release_ids = [release.id for release in releases]
    pickups = sorted(
        (
            Pickup(
                release_id=gate_out.release_id,
                decision_id=gate_out.decision_id,
                at=gate_out.completed_at,
                by=gate_out.completed_by,
            )
            for gate_out in await repository.gate_outs_of(session, release_ids)
        ),
        key=lambda pickup: pickup.at,
    )
    placed = _Pickups(pickups)
    facts = sorted(
        await _gather(session, container, release_ids, since=since, until=until),
        key=lambda fact: (fact.at, fact.key),
    )
    if after is not None:
        facts = [fact for fact in facts if (fact.at, fact.key) > after]
    page, more = facts[:limit], len(facts) > limit
    entries = [
        Knowledge(
            at=fact.at,
            source=fact.source,
            action=fact.action,
            actor=fact.actor,
            party_id=fact.party_id,
            person_id=fact.person_id,
            endpoint=fact.endpoint,
            outcome=fact.outcome,
            release_id=fact.release_id,
            pickup=placed.relative(fact),
        )
        for fact in page
    ]
    answer = WhoKnew(container=container, pickups=pickups, entries=entries, next=None)
    return answer, page[-1] if more and page else None
