"""Rules that count audit events per key within a window, for both services' audit logs.

An `AuditCountRule` names the event types it watches, says which events count
(`counts`) and what key groups them (`key_of`: a subject, or a subject and what it is
about); at least `count` events of one key within `window_seconds` raise one alert per key
and window, the events named as evidence. Arrived events only choose which keys to judge;
the count is always over the window as the database holds it.
"""

from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any, ClassVar

from sqlmodel.ext.asyncio.session import AsyncSession

from shared.audit.models import AuditEvent
from shared.monitoring import evidence
from shared.monitoring.repository import audit_events_since
from shared.monitoring.rules import Arrived, Finding, Rule, WindowCount
from shared.monitoring.sources import AUDIT_LOG, facts_of

#: The most events of one window a rule reads (a bound, named in the alert when reached).
MAX_EVENTS = 50_000


def bucket(now: datetime, window_seconds: int) -> int:
    """The number of the window `now` falls in: one alert per rule, subject and window."""
    return int(now.timestamp()) // window_seconds


class AuditCountRule(Rule):
    """At least `count` counted events of one key within `window_seconds`."""

    sources: ClassVar[frozenset[str]] = frozenset({AUDIT_LOG})
    thresholds_model: ClassVar[type[WindowCount]] = WindowCount
    event_types: ClassVar[frozenset[str]]

    def counts(self, event_type: str, facts: dict[str, Any]) -> bool:
        """Whether this event counts (all of the watched types by default)."""
        return True

    def key_of(self, facts: dict[str, Any]) -> tuple[str, str] | None:
        """(subject, what about) of a counted event; None to leave it out."""
        raise NotImplementedError

    def summary(self, subject: str, about: str, count: int, thresholds: WindowCount) -> str:
        """The alert's one line."""
        hours = thresholds.window_seconds / 3600
        return f"{subject}: {count} {self.name.replace('_', ' ')} in {hours:g} h ({about})"

    def _keys(self, arrived: Arrived) -> set[tuple[str, str]]:
        keys = set()
        for event in arrived.rows:
            if isinstance(event, AuditEvent) and event.event_type in self.event_types:
                facts = facts_of(event)
                key = self.key_of(facts) if self.counts(event.event_type, facts) else None
                if key is not None:
                    keys.add(key)
        return keys

    async def check(
        self,
        session: AsyncSession,
        thresholds: Any,
        *,
        arrived: Arrived | None,
        now: datetime,
    ) -> list[Finding]:
        """One finding per key with at least `count` events in the window."""
        limits: WindowCount = thresholds
        wanted: Collection[tuple[str, str]] | None = None
        if arrived is not None:
            wanted = self._keys(arrived)
            if not wanted:
                return []
        since = now - timedelta(seconds=limits.window_seconds)
        found = await audit_events_since(session, self.event_types, since=since, limit=MAX_EVENTS)
        grouped: dict[tuple[str, str], list[AuditEvent]] = {}
        for event, facts in found:
            if not self.counts(event.event_type, facts):
                continue
            key = self.key_of(facts)
            if key is not None and (wanted is None or key in wanted):
                grouped.setdefault(key, []).append(event)
        window = bucket(now, limits.window_seconds)
        findings = []
        for (subject, about), events in grouped.items():
            if len(events) < limits.count:
                continue
            findings.append(
                Finding(
                    subject=subject,
                    summary=self.summary(subject, about, len(events), limits),
                    facts={
                        "about": about,
                        "count": len(events),
                        "threshold": limits.count,
                        "window_seconds": limits.window_seconds,
                    },
                    evidence=evidence.audit_events(e.event_id for e in events),
                    dedup_key=f"{self.name}|{subject}|{about}|{window}",
                )
            )
        return findings
