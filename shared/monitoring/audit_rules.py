"""Rules that count audit events per key within a window, for both services' audit logs.

An `AuditCountRule` names the event types it watches, says which events count
(`counts`) and what key groups them (`key_of`: a subject, and what it is about); at least
`count` events of one key within `window_seconds` raise one alert per key and window, the
events named as evidence. As events arrive (in log order, once each) the rule marks each
counted event with its key (`monitoring_marks`, once per rule and event), then counts the
marks of the arrived keys over the window from an index: the audit log is not read again.
A sweep counts every key's marks, and forgets marks older than any window can reach.
Events logged before the runner first looked are not marked: counting starts then.
"""

from datetime import datetime, timedelta
from typing import Any, ClassVar

from sqlmodel.ext.asyncio.session import AsyncSession

from shared.audit.models import AuditEvent
from shared.monitoring import evidence, repository
from shared.monitoring.rules import Arrived, Finding, Rule, WindowCount
from shared.monitoring.sources import AUDIT_LOG, facts_of

#: Marks are kept this long: the longest window a rule takes (WindowCount's bound).
MARKS_KEPT_DAYS = 90


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

    async def _mark(self, session: AsyncSession, arrived: Arrived) -> set[tuple[str, str]]:
        keys = set()
        for event in arrived.rows:
            if not isinstance(event, AuditEvent) or event.event_type not in self.event_types:
                continue
            facts = facts_of(event)
            key = self.key_of(facts) if self.counts(event.event_type, facts) else None
            if key is None:
                continue
            await repository.mark(
                session,
                rule=self.name,
                event_id=event.event_id,
                subject=key[0][:120],
                about=key[1][:200],
                at=event.created_at,
            )
            keys.add((key[0][:120], key[1][:200]))
        return keys

    async def check(
        self,
        session: AsyncSession,
        thresholds: Any,
        *,
        arrived: Arrived | None,
        now: datetime,
    ) -> list[Finding]:
        """One finding per key with at least `count` marks in the window."""
        limits: WindowCount = thresholds
        wanted: set[tuple[str, str]] | None = None
        if arrived is not None:
            wanted = await self._mark(session, arrived)
            if not wanted:
                return []
        else:
            await repository.forget_marks(session, before=now - timedelta(days=MARKS_KEPT_DAYS))
        since = now - timedelta(seconds=limits.window_seconds)
        over = await repository.marks_over(
            session,
            rule=self.name,
            since=since,
            subjects=None if wanted is None else {subject for subject, _ in wanted},
            threshold=limits.count,
        )
        window = bucket(now, limits.window_seconds)
        findings = []
        for subject, about, count in over:
            if wanted is not None and (subject, about) not in wanted:
                continue
            events = await repository.marked_events(
                session,
                rule=self.name,
                subject=subject,
                about=about,
                since=since,
                limit=evidence.MAX_ITEMS,
            )
            findings.append(
                Finding(
                    subject=subject,
                    summary=self.summary(subject, about, count, limits),
                    facts={
                        "about": about,
                        "count": count,
                        "threshold": limits.count,
                        "window_seconds": limits.window_seconds,
                    },
                    evidence=evidence.audit_events(events),
                    dedup_key=f"{self.name}|{subject}|{about}|{window}",
                )
            )
        return findings
