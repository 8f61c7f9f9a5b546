"""Releases and holds: one container at one terminal, released by a shipping line."""

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Index, text
from sqlmodel import Field, SQLModel

from shared.models import UTCDateTime, utcnow


class ReleaseStatus(StrEnum):
    """Where a release stands (docs/design.md, Domain)."""

    open = "open"
    picked_up = "picked_up"
    cancelled = "cancelled"
    expired = "expired"


class HoldKind(StrEnum):
    """Who may stop a container: customs, or the terminal itself."""

    customs = "customs"
    terminal = "terminal"


class Release(SQLModel, table=True):
    """A container released by a shipping line to a first party, at one terminal."""

    __tablename__ = "releases"
    __table_args__ = (
        # One open release per container: the gate must never have to choose between two.
        Index(
            "uq_releases_open_container",
            "container",
            unique=True,
            postgresql_where=text("status = 'open'"),
            sqlite_where=text("status = 'open'"),
        ),
    )

    id: uuid.UUID = Field(primary_key=True)
    container: str = Field(index=True, max_length=11)
    terminal_id: str = Field(index=True, max_length=40)
    shipping_line_id: str = Field(index=True, max_length=40)
    first_party_id: str = Field(max_length=40)
    reference: str | None = Field(default=None, max_length=100)
    # The country the container was loaded in, as the line declares it (ISO 3166 alpha-2):
    # a risk factor at the gate when the terminal's policy names it.
    origin: str | None = Field(default=None, max_length=2)
    valid_until: datetime = Field(sa_type=UTCDateTime)
    status: str = Field(default=ReleaseStatus.open, max_length=16)
    created_by: str = Field(max_length=100)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Hold(SQLModel, table=True):
    """A hold on a release; the primary key makes one of each kind at most."""

    __tablename__ = "release_holds"

    release_id: uuid.UUID = Field(foreign_key="releases.id", primary_key=True)
    kind: str = Field(primary_key=True, max_length=16)
    placed_by_party: str = Field(max_length=40)
    placed_by: str = Field(max_length=100)
    reason: str | None = Field(default=None, max_length=500)
    placed_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
