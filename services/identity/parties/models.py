"""Parties: the organisations of the port, by EORI number."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from shared.models import UTCDateTime, utcnow


class PartyRole(StrEnum):
    """What a party does in the port."""

    shipping_line = "shipping_line"
    forwarder = "forwarder"
    carrier = "carrier"
    terminal = "terminal"
    customs = "customs"
    port_security = "port_security"
    admin = "admin"


class PartyStatus(StrEnum):
    """Suspension can be lifted; revocation is final."""

    active = "active"
    suspended = "suspended"
    revoked = "revoked"


class Party(SQLModel, table=True):
    """An organisation, identified iSHARE-style: `EU.EORI.NL123456789`."""

    __tablename__ = "parties"

    id: str = Field(primary_key=True, max_length=40)
    name: str = Field(max_length=200)
    roles: list[str] = Field(sa_column=Column(JSON, nullable=False))
    status: str = Field(default=PartyStatus.active, max_length=20)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
