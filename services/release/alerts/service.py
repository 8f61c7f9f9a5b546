"""Raising an alert: a row port security lists, and the same facts in the audit log.

Protective monitoring (alert rules, acknowledgement, pushing alerts as they happen) builds
on this; for now the service raises alerts where its own rules say so: an inspection's
finding or seizure, a selection over the terminal's daily capacity, a missed dog visit.
"""

import uuid
from datetime import datetime
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from services.release.alerts import repository
from services.release.alerts.models import Alert, Severity
from shared.audit.events import append


async def raise_alert(
    session: AsyncSession,
    *,
    kind: str,
    severity: str,
    summary: str,
    facts: dict[str, Any],
    now: datetime,
) -> uuid.UUID:
    """Record an alert and log it, in the caller's transaction; its id."""
    level = Severity(severity)  # a caller's typo is a bug, not an alert of no severity
    alert_id = uuid.uuid4()
    event_id = await append(
        session,
        "alert.raised",
        {
            "alert_id": str(alert_id),
            "kind": kind,
            "severity": str(level),
            "summary": summary,
            "facts": facts,
        },
    )
    await repository.add(
        session,
        Alert(
            id=alert_id,
            kind=kind,
            severity=level,
            summary=summary,
            facts=facts,
            raised_at=now,
            event_id=event_id,
        ),
    )
    return alert_id
