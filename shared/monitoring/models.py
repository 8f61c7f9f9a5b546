"""Tables of protective monitoring, the same in both services (each in its own database).

- `alerts`: what port security must look at, with its lifecycle (open, acknowledged,
  closed as confirmed or unfounded with a reason) and the evidence behind it;
- `alert_changes`: one row per raise, acknowledgement or closure; its id is the `id:` of the
  server-sent event stream, so a client resumes where it stopped;
- `monitoring_rules`: the thresholds port security set (a rule without a row runs on its
  defaults);
- `monitoring_cursors`: how far the rule runner has followed each log;
- `monitoring_marks`: the audit events a counting rule counted, with its key, so that a
  window is counted from an index rather than by reading the audit log again.
"""

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, Index
from sqlmodel import Field, SQLModel

from shared.models import BigId, UTCDateTime, utcnow


class Severity(StrEnum):
    """How urgently port security should look."""

    low = "low"
    medium = "medium"
    high = "high"
    critical = "critical"


class AlertStatus(StrEnum):
    """Where an alert stands: open, then acknowledged (someone looks), then closed (final)."""

    open = "open"
    acknowledged = "acknowledged"
    closed = "closed"


class AlertOutcome(StrEnum):
    """What port security concluded when closing an alert."""

    confirmed = "confirmed"
    unfounded = "unfounded"


class Alert(SQLModel, table=True):
    """One alert: kind, severity, summary, facts, evidence and lifecycle.

    The row is written in the same transaction as the audit event `alert.raised`, which
    carries the same facts and evidence: an alert deleted from the table is still in the
    log, as is each acknowledgement and closure (`alert.acknowledged`, `alert.closed`).
    """

    __tablename__ = "alerts"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    kind: str = Field(index=True, max_length=40)
    severity: str = Field(max_length=8)
    summary: str = Field(max_length=500)
    facts: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    raised_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    event_id: uuid.UUID
    status: str = Field(default=AlertStatus.open, max_length=16, index=True)
    # The rule that raised it (the kind, for alerts a service raises outside the rules).
    rule: str = Field(max_length=40)
    # The person (`person:<id>`), client (`client:<party>`), party or address it is about.
    subject: str | None = Field(default=None, max_length=120, index=True)
    # The rows and events behind it: [{"access_log": id} | {"audit_event": uuid}, ...].
    evidence: list[dict[str, Any]] = Field(sa_column=Column(JSON, nullable=False))
    # One alert per rule, subject and window, across processes (None: not deduplicated).
    dedup_key: str | None = Field(default=None, max_length=250, unique=True)
    acknowledged_by: str | None = Field(default=None, max_length=100)
    acknowledged_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    closed_by: str | None = Field(default=None, max_length=100)
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    outcome: str | None = Field(default=None, max_length=16)
    close_reason: str | None = Field(default=None, max_length=2000)


class AlertChange(SQLModel, table=True):
    """One change of an alert (`alert.raised`, `alert.acknowledged`, `alert.closed`)."""

    __tablename__ = "alert_changes"

    id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True))
    alert_id: uuid.UUID = Field(index=True)
    change: str = Field(max_length=32)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class MonitoringRule(SQLModel, table=True):
    """A rule's settings as port security set them last (audited `monitoring.rule_changed`)."""

    __tablename__ = "monitoring_rules"

    name: str = Field(primary_key=True, max_length=40)
    enabled: bool = True
    thresholds: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    changed_by: str = Field(max_length=100)
    changed_at: datetime = Field(sa_type=UTCDateTime)
    event_id: uuid.UUID


class MonitoringCursor(SQLModel, table=True):
    """How far the rule runner has read one log (the last row id it handed to the rules)."""

    __tablename__ = "monitoring_cursors"

    source: str = Field(primary_key=True, max_length=40)
    position: int = Field(sa_column=Column(BigId, nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class MonitoringMark(SQLModel, table=True):
    """One audit event a counting rule counted: its key (subject, about) and when logged.

    Derived from the audit log, which stays the source: a mark lost only loses a count. The
    key (rule, event) makes a mark once, whichever runner saw the event first.
    """

    __tablename__ = "monitoring_marks"
    __table_args__ = (
        Index("ix_monitoring_marks_rule_subject_about_at", "rule", "subject", "about", "at"),
        Index("ix_monitoring_marks_rule_at", "rule", "at"),
    )

    rule: str = Field(primary_key=True, max_length=40)
    event_id: uuid.UUID = Field(primary_key=True)
    subject: str = Field(max_length=120)
    about: str = Field(max_length=200)
    at: datetime = Field(sa_type=UTCDateTime)
