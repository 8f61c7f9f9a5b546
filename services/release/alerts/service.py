"""Raising an alert: a row port security lists, and the same facts in the audit log.

The service raises alerts where its own code says so (an inspection's finding or seizure,
a selection over the terminal's daily capacity, a missed dog visit, a reconciliation
difference); the monitoring rules (services/release/monitoring) raise the others. Both go
through shared.monitoring, which holds the lifecycle (open, acknowledged, closed).
"""

import uuid
from datetime import datetime
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from services.release.webhooks import events as webhook_events
from services.release.webhooks.outbox import record as announce
from shared.monitoring import service as monitoring


async def raise_alert(
    session: AsyncSession,
    *,
    kind: str,
    severity: str,
    summary: str,
    facts: dict[str, Any],
    now: datetime,
    subject: str | None = None,
    evidence: list[dict[str, Any]] | None = None,
) -> uuid.UUID:
    """Record an open alert and log it, in the caller's transaction; its id.

    Its rule is its kind; `subject` and `evidence` (shared.monitoring.evidence) are for
    callers that know them. Listeners of the stream find it at their next poll.
    """
    alert_id = await monitoring.raise_alert(
        session,
        kind=kind,
        severity=severity,
        summary=summary,
        facts=facts,
        now=now,
        subject=subject,
        evidence=evidence,
    )
    assert alert_id is not None
    announce_alert(
        session, alert_id=alert_id, kind=kind, severity=severity, summary=summary, now=now
    )
    return alert_id


def announce_alert(
    session: AsyncSession,
    *,
    alert_id: uuid.UUID,
    kind: str,
    severity: str,
    summary: str,
    now: datetime,
) -> None:
    """The alert as an `alert.raised` event for port security's subscribers, in the
    transaction that raised it (the service's own alerts, and the rules' through the
    runner's `on_raised`)."""
    announce(
        session,
        webhook_events.ALERT_RAISED,
        release_id=None,
        facts={"alert_id": str(alert_id), "kind": kind, "severity": severity, "summary": summary},
        now=now,
    )
