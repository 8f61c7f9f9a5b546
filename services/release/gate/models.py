"""Gate passes the gate has accepted: the database is the source of truth for single use."""

import uuid
from datetime import datetime

from sqlmodel import Field, SQLModel

from shared.models import UTCDateTime, utcnow


class UsedGatePass(SQLModel, table=True):
    """A gate pass `jti` spent at a gate; the primary key makes it once."""

    __tablename__ = "used_gate_passes"

    jti: str = Field(primary_key=True, max_length=200)
    person_id: uuid.UUID = Field(index=True)
    party_id: str = Field(max_length=40)
    used_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime, index=True)
