"""The release service's monitoring rules (docs/monitoring.md lists them with defaults).

Over the access log (every read of release data, refused ones included): out-of-scope
look-ups, bursts, look-ups of containers selected for inspection or on hold, releases
attempted without the right, and use at hours unusual for that person. Over the audit log:
a driver assigned and withdrawn repeatedly, a party re-nominating the same container, and
one officer asking for many inspection cancellations. Missed dog visits are alerted by the
visit scheduler itself (`visit_missed`, one per missed visit), not by a rule here.

Subjects are actors as the logs name them: `person:<id>` or `client:<party id>`.
"""

import uuid
from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from pydantic import Field
from sqlalchemy import ColumnElement
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from services.release.access.models import AccessLogEntry
from services.release.monitoring import repository
from shared.monitoring import evidence
from shared.monitoring.audit_rules import AuditCountRule, bucket
from shared.monitoring.models import Severity
from shared.monitoring.rules import Arrived, Finding, Rule, RuleSet, Thresholds, WindowCount
from shared.monitoring.sources import ACCESS_LOG

#: Evidence named per alert (the facts say how many rows there were).
EVIDENCE_ROWS = 100


class AccessCountRule(Rule):
    """At least `count` matching access-log rows of one actor within `window_seconds`."""

    sources: ClassVar[frozenset[str]] = frozenset({ACCESS_LOG})
    thresholds_model: ClassVar[type[WindowCount]] = WindowCount
    what: ClassVar[str]

    def condition(self) -> ColumnElement[bool] | None:
        """Which rows count (None: every row)."""
        return None

    def matches(self, row: AccessLogEntry) -> bool:
        """Whether an arrived row may count (a cheap filter before the database's count)."""
        return True

    async def check(
        self,
        session: AsyncSession,
        thresholds: Any,
        *,
        arrived: Arrived | None,
        now: datetime,
    ) -> list[Finding]:
        """One finding per actor with at least `count` matching rows in the window."""
        limits: WindowCount = thresholds
        actors: Collection[str] | None = None
        if arrived is not None:
            actors = {
                row.actor
                for row in arrived.rows
                if isinstance(row, AccessLogEntry) and self.matches(row)
            }
            if not actors:
                return []
        since = now - timedelta(seconds=limits.window_seconds)
        over = await repository.actors_over(
            session,
            condition=self.condition(),
            since=since,
            until=now,
            actors=actors,
            threshold=limits.count,
        )
        window = bucket(now, limits.window_seconds)
        findings = []
        for actor, count in over:
            rows = await repository.rows_of(
                session,
                actor=actor,
                condition=self.condition(),
                since=since,
                until=now,
                limit=EVIDENCE_ROWS,
            )
            containers = sorted({row.container for row in rows if row.container})
            findings.append(
                Finding(
                    subject=actor,
                    summary=(
                        f"{actor} ({rows[0].party_id if rows else '?'}): {count} {self.what}"
                        f" in {limits.window_seconds / 60:g} min"
                    ),
                    facts={
                        "actor": actor,
                        "party_id": rows[0].party_id if rows else None,
                        "count": count,
                        "threshold": limits.count,
                        "window_seconds": limits.window_seconds,
                        "containers": containers[:20],
                        "actions": sorted({row.action for row in rows}),
                    },
                    evidence=evidence.access_rows(row.id for row in rows if row.id is not None),
                    dedup_key=f"{self.name}|{actor}|{window}",
                )
            )
        return findings


class OutOfScopeLookups(AccessCountRule):
    """Look-ups answered `not_found`: releases or containers outside the caller's part."""

    name = "out_of_scope_lookups"
    kind = "out_of_scope_lookups"
    severity = Severity.high
    what = "look-ups outside his part (answered not found)"
    description = (
        "A person or client looks up releases or containers outside his party's chains or"
        " terminal (each refused with not found, and each recorded)."
    )
    defaults = WindowCount(count=3, window_seconds=3600)

    def condition(self) -> ColumnElement[bool] | None:
        """Reads answered not found."""
        return col(AccessLogEntry.outcome) == "not_found"

    def matches(self, row: AccessLogEntry) -> bool:
        """Only refused reads."""
        return row.outcome == "not_found"


class LookupBurst(AccessCountRule):
    """Very many reads by one person or client in a short time (port security's too)."""

    name = "lookup_burst"
    kind = "lookup_burst"
    severity = Severity.medium
    what = "reads"
    description = "A burst of look-ups by one person or client, port security's own included."
    defaults = WindowCount(count=200, window_seconds=600)


class WatchedContainerLookups(AccessCountRule):
    """Reads of containers selected for inspection or on hold."""

    name = "watched_container_lookups"
    kind = "watched_container_lookups"
    severity = Severity.high
    what = "look-ups of containers selected for inspection or on hold"
    description = (
        "Look-ups (shown or refused) of containers with an open inspection or a hold: who"
        " wants to know whether his container is being watched?"
    )
    defaults = WindowCount(count=3, window_seconds=3600)

    def condition(self) -> ColumnElement[bool] | None:
        """Rows about a watched container."""
        return repository.watched_container()

    def matches(self, row: AccessLogEntry) -> bool:
        """Rows that name a container or release."""
        return row.container is not None or row.release_id is not None


class ReleaseNotEntitled(AccessCountRule):
    """A shipping line's attempts to release containers it has no right to."""

    name = "release_not_entitled"
    kind = "release_not_entitled"
    severity = Severity.high
    what = "releases refused (no right to the container)"
    description = (
        "A shipping line's person or system tries to release containers that no yard entry"
        " names it for (each refusal is recorded)."
    )
    defaults = WindowCount(count=3, window_seconds=86400)

    def condition(self) -> ColumnElement[bool] | None:
        """Refused releases."""
        return (col(AccessLogEntry.action) == "release.create") & (
            col(AccessLogEntry.outcome) == "refused"
        )

    def matches(self, row: AccessLogEntry) -> bool:
        """Refused releases."""
        return row.action == "release.create" and row.outcome == "refused"


#: Reads of what port security keeps (and the dog handlers' dispatch): anyone refused one
#: wants to know what is watched, or when the dog comes.
SECURITY_ACTIONS = (
    "alerts.list",
    "alerts.read",
    "alerts.stream",
    "alerts.acknowledge",
    "alerts.close",
    "monitoring.rules",
    "monitoring.rule_change",
    "figures.read",
    "exposure.read",
    "investigation.who_knew",
    "visits.dispatch",
)


class RefusedSecurityReads(AccessCountRule):
    """Refused attempts to read what port security keeps, or a dog visit's dispatch."""

    name = "refused_security_reads"
    kind = "refused_security_reads"
    severity = Severity.high
    what = "refused attempts to read alerts, rules, figures, who-knew, exposure or dispatch"
    description = (
        "Refused attempts to read or act on alerts, rules, figures, who-knew, a party's"
        " exposure or a dog visit's dispatch: who wants to know what is watched?"
    )
    defaults = WindowCount(count=3, window_seconds=3600)

    def condition(self) -> ColumnElement[bool] | None:
        """Refused reads of port security's data."""
        return (col(AccessLogEntry.outcome) == "refused") & col(AccessLogEntry.action).in_(
            SECURITY_ACTIONS
        )

    def matches(self, row: AccessLogEntry) -> bool:
        """Refused reads of port security's data."""
        return row.outcome == "refused" and row.action in SECURITY_ACTIONS


class UnusualHoursThresholds(Thresholds):
    """An hour of the day is unusual for a person holding less than `max_share` of his
    reads over `history_days`, once he has at least `min_history` reads."""

    max_share: float = Field(ge=0.0, le=1.0)
    history_days: int = Field(ge=1, le=365)
    min_history: int = Field(ge=1, le=1_000_000)


class UnusualHours(Rule):
    """Reads at an hour of the day that person hardly ever works at."""

    name = "unusual_hours"
    kind = "unusual_hours"
    severity = Severity.medium
    description = (
        "A person reads at an hour of the day (port time) in which he did less than"
        " max_share of his reads over the last history_days, once he has min_history reads."
    )
    sources: ClassVar[frozenset[str]] = frozenset({ACCESS_LOG})
    thresholds_model: ClassVar[type[Thresholds]] = UnusualHoursThresholds
    defaults = UnusualHoursThresholds(max_share=0.01, history_days=30, min_history=200)

    #: People whose share of the hour is remembered for the current hour (a bound: past it
    #: the memory starts afresh). A person's history before this hour does not change
    #: within it, so it is read once per person and hour, not once per look.
    MEMORY = 20_000
    #: People read per query, and the rows read per person at most (a heavy reader's
    #: history is then a sample of his last month: enough for a share).
    QUERY_PEOPLE = 500
    HISTORY_ROWS = 5_000

    def __init__(self, zone: ZoneInfo) -> None:
        self.zone = zone
        self._hour: datetime | None = None
        self._shares: dict[tuple[uuid.UUID, int], tuple[int, float]] = {}

    def forget(self) -> None:
        """Forget the remembered shares (tests; a change of thresholds)."""
        self._hour = None
        self._shares.clear()

    async def _shares_of(
        self,
        session: AsyncSession,
        people: Collection[uuid.UUID],
        hour_start: datetime,
        limits: UnusualHoursThresholds,
    ) -> dict[uuid.UUID, tuple[int, float]]:
        """Per person: (reads in his history, the share of them in this hour of the day),
        the people not remembered yet read in one query."""
        if self._hour != hour_start or len(self._shares) + len(people) > self.MEMORY:
            self.forget()
            self._hour = hour_start
        unknown = [p for p in people if (p, limits.history_days) not in self._shares]
        for start in range(0, len(unknown), self.QUERY_PEOPLE):
            chunk = unknown[start : start + self.QUERY_PEOPLE]
            moments = await repository.moments_of(
                session,
                chunk,
                since=hour_start - timedelta(days=limits.history_days),
                until=hour_start,
                limit=len(chunk) * self.HISTORY_ROWS,
            )
            counts: dict[uuid.UUID, list[int]] = {person: [0, 0] for person in chunk}
            for person, at in moments:
                if person in counts:
                    counts[person][0] += 1
                    counts[person][1] += at.astimezone(self.zone).hour == hour_start.hour
            for person, (total, usual) in counts.items():
                share = usual / total if total else 0.0
                self._shares[(person, limits.history_days)] = (total, share)
        return {p: self._shares[(p, limits.history_days)] for p in people}

    async def check(
        self,
        session: AsyncSession,
        thresholds: Any,
        *,
        arrived: Arrived | None,
        now: datetime,
    ) -> list[Finding]:
        """Each person whose reads of this hour fall in an hour unusual for him."""
        limits: UnusualHoursThresholds = thresholds
        hour_start = now.astimezone(self.zone).replace(minute=0, second=0, microsecond=0)
        if arrived is not None:
            people = {
                row.person_id
                for row in arrived.rows
                if isinstance(row, AccessLogEntry) and row.person_id is not None
            }
        else:
            people = set(await repository.persons_active(session, since=hour_start))
        findings = []
        hour = hour_start.hour
        shares = await self._shares_of(session, sorted(people), hour_start, limits)
        for person_id, (history, share) in shares.items():
            if history < limits.min_history or share >= limits.max_share:
                continue
            actor = f"person:{person_id}"
            rows = await repository.rows_of(
                session, actor=actor, condition=None, since=hour_start, until=now, limit=100
            )
            if not rows:
                continue
            findings.append(
                Finding(
                    subject=actor,
                    summary=(
                        f"{actor} ({rows[0].party_id}) reads at {hour:02d}:00, an hour with"
                        f" {share:.1%} of his {history} reads over {limits.history_days} days"
                    ),
                    facts={
                        "actor": actor,
                        "party_id": rows[0].party_id,
                        "hour": hour,
                        "share": round(share, 4),
                        "history": history,
                        "reads_this_hour": len(rows),
                        "zone": str(self.zone),
                    },
                    evidence=evidence.access_rows(row.id for row in rows if row.id is not None),
                    dedup_key=f"{self.name}|{actor}|{hour_start.isoformat()}",
                )
            )
        return findings


class DriverReassigned(AuditCountRule):
    """A release whose driver is assigned and withdrawn again and again."""

    name = "driver_reassigned"
    kind = "driver_reassigned"
    severity = Severity.medium
    description = (
        "A release's driver assignment withdrawn repeatedly: a carrier trying drivers until"
        " one passes, or hiding which driver will come."
    )
    event_types = frozenset({"link.withdrawn"})
    defaults = WindowCount(count=2, window_seconds=7 * 86400)

    def counts(self, event_type: str, facts: dict[str, Any]) -> bool:
        """Withdrawn assignments only."""
        return facts.get("kind") == "assignment"

    def key_of(self, facts: dict[str, Any]) -> tuple[str, str] | None:
        """The withdrawing party, about the release."""
        return str(facts.get("party_id")), f"release {facts.get('release_id')}"


class Renomination(AuditCountRule):
    """A party handing the same release on again and again."""

    name = "renomination"
    kind = "renomination"
    severity = Severity.medium
    description = "A party re-nominates the same container (release) many times."
    event_types = frozenset({"link.submitted"})
    defaults = WindowCount(count=3, window_seconds=7 * 86400)

    def counts(self, event_type: str, facts: dict[str, Any]) -> bool:
        """Handovers only (the release link is made once)."""
        return facts.get("kind") == "handover"

    def key_of(self, facts: dict[str, Any]) -> tuple[str, str] | None:
        """The nominating party, about the release."""
        return str(facts.get("from")), f"release {facts.get('release_id')}"


class InspectionCancellations(AuditCountRule):
    """One officer asking for many inspection cancellations."""

    name = "inspection_cancellations"
    kind = "inspection_cancellations"
    severity = Severity.high
    description = "One officer asks to cancel inspections repeatedly."
    event_types = frozenset({"inspection.cancel_requested"})
    defaults = WindowCount(count=3, window_seconds=30 * 86400)

    def key_of(self, facts: dict[str, Any]) -> tuple[str, str] | None:
        """The officer who asked."""
        return str(facts.get("actor")), "cancellations requested"


def release_rules(zone: ZoneInfo) -> RuleSet:
    """The release service's rules."""
    return RuleSet.of(
        OutOfScopeLookups(),
        LookupBurst(),
        WatchedContainerLookups(),
        ReleaseNotEntitled(),
        RefusedSecurityReads(),
        UnusualHours(zone),
        DriverReassigned(),
        Renomination(),
        InspectionCancellations(),
    )
