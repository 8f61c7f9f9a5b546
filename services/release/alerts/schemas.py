"""What the alerts API answers."""

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from services.release.alerts.models import Alert


class AlertView(BaseModel):
    """One alert as port security reads it."""

    alert_id: uuid.UUID
    kind: str
    severity: str
    summary: str
    facts: dict[str, Any]
    raised_at: datetime
    event_id: uuid.UUID

    @classmethod
    def of(cls, alert: Alert) -> "AlertView":
        """The view of a stored alert."""
        return cls(
            alert_id=alert.id,
            kind=alert.kind,
            severity=alert.severity,
            summary=alert.summary,
            facts=alert.facts,
            raised_at=alert.raised_at,
            event_id=alert.event_id,
        )


class AlertPage(BaseModel):
    """One page of alerts; `next` is the cursor of the following page, None at the end."""

    alerts: list[AlertView]
    next: str | None
