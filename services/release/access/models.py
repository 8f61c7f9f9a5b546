"""The access log: every read of release data, by whom, for protective monitoring."""

import uuid
from datetime import datetime

from sqlalchemy import Column
from sqlmodel import Field, SQLModel

from shared.models import BigId, UTCDateTime, utcnow


class AccessLogEntry(SQLModel, table=True):
    """One read (or attempted read) of release data."""

    __tablename__ = "access_log"

    id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True))
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    actor: str = Field(index=True, max_length=100)
    party_id: str = Field(index=True, max_length=40)
    person_id: uuid.UUID | None = Field(default=None, index=True)
    # What was asked: `release.read`, `chain.read`, `release.search`, …
    action: str = Field(max_length=40)
    release_id: uuid.UUID | None = Field(default=None, index=True)
    container: str | None = Field(default=None, index=True, max_length=11)
    # `shown`, or `not_found` when the caller asked for what he may not see (or what does
    # not exist: he cannot tell the two apart, the log can).
    outcome: str = Field(max_length=16)
    results: int = 0
