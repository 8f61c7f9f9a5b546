"""What the alerts and monitoring APIs answer and accept (the same in both services)."""

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from shared.monitoring.evidence import receipt_path
from shared.monitoring.models import Alert, AlertOutcome
from shared.monitoring.rules import RuleSettings


class EvidenceItem(BaseModel):
    """One row or event behind an alert; `receipt` is where an audit event's proof is."""

    access_log: int | None = None
    audit_event: uuid.UUID | None = None
    receipt: str | None = None


class AlertView(BaseModel):
    """One alert as port security reads it."""

    alert_id: uuid.UUID
    kind: str
    severity: str
    summary: str
    facts: dict[str, Any]
    raised_at: datetime
    event_id: uuid.UUID
    status: str
    rule: str
    subject: str | None
    evidence: list[EvidenceItem]
    acknowledged_by: str | None
    acknowledged_at: datetime | None
    closed_by: str | None
    closed_at: datetime | None
    outcome: str | None
    close_reason: str | None

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
            status=alert.status,
            rule=alert.rule,
            subject=alert.subject,
            evidence=[
                EvidenceItem(
                    access_log=item.get("access_log"),
                    audit_event=item.get("audit_event"),
                    receipt=receipt_path(item),
                )
                for item in alert.evidence
            ],
            acknowledged_by=alert.acknowledged_by,
            acknowledged_at=alert.acknowledged_at,
            closed_by=alert.closed_by,
            closed_at=alert.closed_at,
            outcome=alert.outcome,
            close_reason=alert.close_reason,
        )


class AlertPage(BaseModel):
    """One page of alerts; `next` is the cursor of the following page, None at the end."""

    alerts: list[AlertView]
    next: str | None


class AlertClose(BaseModel):
    """How port security closes an alert: what it concluded and why."""

    model_config = ConfigDict(extra="forbid")

    outcome: AlertOutcome
    reason: str = Field(min_length=1, max_length=2000)


class RuleView(BaseModel):
    """One rule with its settings as they are now."""

    name: str
    kind: str
    severity: str
    description: str
    sources: list[str]
    enabled: bool
    thresholds: dict[str, Any]
    defaults: dict[str, Any]
    changed_by: str | None
    changed_at: datetime | None

    @classmethod
    def of(cls, entry: RuleSettings) -> "RuleView":
        """The view of a rule's effective settings."""
        rule = entry.rule
        return cls(
            name=rule.name,
            kind=rule.kind,
            severity=rule.severity,
            description=rule.description,
            sources=sorted(rule.sources),
            enabled=entry.enabled,
            thresholds=entry.thresholds.model_dump(),
            defaults=rule.defaults.model_dump(),
            changed_by=entry.changed_by,
            changed_at=entry.changed_at,
        )


class RuleList(BaseModel):
    """Every rule of the service."""

    rules: list[RuleView]


class RuleUpdate(BaseModel):
    """Port security's settings for one rule; thresholds not named keep their value."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool
    thresholds: dict[str, Any] = Field(default_factory=dict)
