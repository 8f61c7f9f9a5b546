"""Party keys: Ed25519 public keys of parties, own or custodial, and people's device keys."""

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, LargeBinary
from sqlmodel import Field, SQLModel

from shared.models import UTCDateTime, utcnow


class KeyStatus(StrEnum):
    """A retired key signs nothing new; its past signatures keep verifying."""

    active = "active"
    retired = "retired"


class PartyKey(SQLModel, table=True):
    """One Ed25519 key of a party; `kid` is its RFC 7638 thumbprint."""

    __tablename__ = "party_keys"

    kid: str = Field(primary_key=True, max_length=64)
    party_id: str = Field(foreign_key="parties.id", index=True, max_length=40)
    public_jwk: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    custodial: bool = False
    # A device key belongs to one person of the party (a driver's phone): its credential's
    # subject is the person, and it never authenticates the party's API client.
    person_id: uuid.UUID | None = Field(default=None, foreign_key="people.id", index=True)
    # Only for custodial keys: the private key, sealed and bound to this kid.
    sealed_private: bytes | None = Field(default=None, sa_column=Column(LargeBinary))
    status: str = Field(default=KeyStatus.active, max_length=20)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    retired_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class KeyNotice(SQLModel, table=True):
    """What the party's administrators are told of a change to the party's keys."""

    __tablename__ = "key_notices"

    id: int | None = Field(default=None, primary_key=True)
    party_id: str = Field(foreign_key="parties.id", index=True, max_length=40)
    kid: str = Field(max_length=64)
    event: str = Field(max_length=40)
    actor: str = Field(max_length=100)
    detail: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
