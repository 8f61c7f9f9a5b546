"""Inspections: the verifiable draws that select containers, and the inspections they open."""

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, Column, Index, LargeBinary, Text, text
from sqlmodel import Field, SQLModel

from shared.models import UTCDateTime, utcnow


class Purpose(StrEnum):
    """What a draw decides."""

    container = "container"  # whether a gate decision selects its container
    visit = "visit"  # whether a site has a drug-dog or patrol visit in a slot


class InspectionKey(SQLModel, table=True):
    """A VRF public key the service has drawn with; draws name theirs by `key_id`, so old
    draws stay verifiable after the secret key is rotated."""

    __tablename__ = "inspection_keys"

    key_id: str = Field(primary_key=True, max_length=64)
    public_key: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    first_used_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Draw(SQLModel, table=True):
    """One verifiable random draw: everything anyone needs to recompute it."""

    __tablename__ = "inspection_draws"
    __table_args__ = (
        # One draw per gate decision: a decision that asks again reuses it, never redraws.
        Index(
            "uq_inspection_draws_decision",
            "decision_id",
            unique=True,
            postgresql_where=text("decision_id IS NOT NULL"),
            sqlite_where=text("decision_id IS NOT NULL"),
        ),
        # A release's n-th container draw is drawn once: its input is fixed by the pickup.
        Index(
            "uq_inspection_draws_release_visit",
            "release_id",
            "visit",
            unique=True,
            postgresql_where=text("visit IS NOT NULL"),
            sqlite_where=text("visit IS NOT NULL"),
        ),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    purpose: str = Field(index=True, max_length=16)
    # RFC 8785 canonical JSON of the VRF input: purpose, subject and the log's checkpoint.
    alpha: str = Field(sa_column=Column(Text, nullable=False))
    key_id: str = Field(max_length=64)
    pi: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    beta: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    u: float
    probability: float
    selected: bool
    drawn_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    event_id: uuid.UUID
    decision_id: uuid.UUID | None = Field(default=None)
    release_id: uuid.UUID | None = Field(default=None, index=True)
    container: str | None = Field(default=None, index=True, max_length=11)
    # Which of its release's container draws this is (1, 2, ...): the draw's subject names
    # it instead of anything the service could pick freely, such as the decision's id.
    visit: int | None = Field(default=None)


class InspectionStatus(StrEnum):
    """Where an inspection stands; every status but `open` is final."""

    open = "open"
    clear = "clear"
    finding = "finding"
    seizure = "seizure"
    cancelled = "cancelled"  # by two officers, with a reason
    # Selected when the terminal's daily capacity was used up: recorded, never dropped, and
    # port security alerted; the container went.
    over_capacity = "over_capacity"


class CancelReason(StrEnum):
    """Why a selection is cancelled (stable codes, counted per officer)."""

    selected_in_error = "selected_in_error"
    container_not_present = "container_not_present"
    inspected_elsewhere = "inspected_elsewhere"
    other = "other"


class Inspection(SQLModel, table=True):
    """A container selected at the gate, until an officer records what was found."""

    __tablename__ = "inspections"
    __table_args__ = (
        # A selection sticks to the container: while one is open, no other can be.
        Index(
            "uq_inspections_open_container",
            "container",
            unique=True,
            postgresql_where=text("status = 'open'"),
            sqlite_where=text("status = 'open'"),
        ),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    container: str = Field(index=True, max_length=11)
    terminal_id: str = Field(index=True, max_length=40)
    release_id: uuid.UUID = Field(index=True)
    decision_id: uuid.UUID = Field(unique=True)
    draw_id: uuid.UUID
    status: str = Field(default=InspectionStatus.open, max_length=16)
    # Who asked for the gate decision that selected it: never its inspector.
    requested_by: str = Field(max_length=100)
    opened_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    closed_by: str | None = Field(default=None, max_length=100)
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    note: str | None = Field(default=None, max_length=2000)
    # A cancellation asked by one officer, waiting for a second, different one.
    cancel_requested_by: str | None = Field(default=None, max_length=100)
    cancel_reason: str | None = Field(default=None, max_length=32)
    cancel_requested_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class InspectionPolicy(SQLModel, table=True):
    """One version of a terminal's selection policy (`risk.RiskPolicy`), set by port security.

    Versions are never changed or deleted: a draw names the version it was weighted by, so
    its probability can be recomputed from the factors it lists.
    """

    __tablename__ = "inspection_policies"

    terminal_id: str = Field(primary_key=True, max_length=40)
    version: int = Field(primary_key=True)
    base: float
    floor: float
    weights: dict[str, float] = Field(sa_column=Column(JSON, nullable=False))
    origins: list[str] = Field(sa_column=Column(JSON, nullable=False))
    long_chain_links: int
    new_carrier_days: int
    daily_capacity: int | None = Field(default=None)
    set_by: str = Field(max_length=100)
    set_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    event_id: uuid.UUID


class CapacityDay(SQLModel, table=True):
    """Selections a terminal has inspected (or is inspecting) on one day of the port."""

    __tablename__ = "inspection_capacity_days"

    terminal_id: str = Field(primary_key=True, max_length=40)
    day: str = Field(primary_key=True, max_length=10)  # YYYY-MM-DD in the port's time zone
    used: int = Field(default=0)
