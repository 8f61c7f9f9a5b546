"""Credentials and the Token Status Lists that can suspend or revoke them."""

import uuid
from datetime import datetime
from enum import IntEnum

from sqlalchemy import JSON, Boolean, Column, LargeBinary, Text, UniqueConstraint, false
from sqlmodel import Field, SQLModel

from shared.models import UTCDateTime, utcnow


class CredentialStatus(IntEnum):
    """Status values of draft-ietf-oauth-status-list (2 bits per entry here)."""

    valid = 0
    invalid = 1
    suspended = 2


class Credential(SQLModel, table=True):
    """A `ketenpas-credential+jwt` binding a party to a key and roles."""

    __tablename__ = "credentials"
    __table_args__ = (UniqueConstraint("status_list_id", "status_index"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    subject: str = Field(index=True, max_length=64)
    party_id: str = Field(foreign_key="parties.id", index=True, max_length=40)
    kid: str = Field(foreign_key="party_keys.kid", index=True, max_length=64)
    roles: list[str] = Field(sa_column=Column(JSON, nullable=False))
    issued_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    not_before: datetime = Field(sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    status_list_id: int = Field(foreign_key="status_lists.id")
    status_index: int
    # Suspended on its own (by an administrator), apart from its party's status: lifting
    # a party's suspension must not lift this one.
    suspended: bool = Field(
        default=False, sa_column=Column(Boolean, nullable=False, server_default=false())
    )
    token: str = Field(sa_column=Column(Text, nullable=False))


class StatusList(SQLModel, table=True):
    """One status list: `size` entries of 2 bits, stored one byte per entry."""

    __tablename__ = "status_lists"

    id: int | None = Field(default=None, primary_key=True)
    size: int
    next_index: int = 0
    statuses: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
