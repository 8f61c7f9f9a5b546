"""Alerts: what port security must look at, raised by the service itself."""

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from shared.models import UTCDateTime, utcnow


class Severity(StrEnum):
    """How urgently port security should look."""

    low = "low"
    medium = "medium"
    high = "high"
    critical = "critical"


class Alert(SQLModel, table=True):
    """One alert: its kind, severity, a one-line summary and the facts behind it.

    The row is written in the same transaction as the audit event `alert.raised`, which
    carries the same facts: an alert deleted from the table is still in the log.
    """

    __tablename__ = "alerts"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    kind: str = Field(index=True, max_length=40)
    severity: str = Field(max_length=8)
    summary: str = Field(max_length=500)
    facts: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    raised_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    event_id: uuid.UUID
