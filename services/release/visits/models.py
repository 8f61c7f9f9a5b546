"""Drug-dog and patrol visits: sites, their teams, and the slots drawn for them.

A slot row is the claim that makes "each slot drawn once, across processes" hold: its key
(site, slot start) is unique in the database, so of several schedulers only the one whose
insert lands draws; the others find the slot taken and do nothing.
"""

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from shared.models import UTCDateTime, utcnow


class SiteKind(StrEnum):
    """What a site is (for the people who read the lists)."""

    gate_lanes = "gate_lanes"
    auction_hall = "auction_hall"
    quay = "quay"
    other = "other"


class VisitOutcome(StrEnum):
    """What became of a visit."""

    done = "done"
    missed = "missed"


class MissedReason(StrEnum):
    """Why a visit was missed (stable codes; the last two only the scheduler records)."""

    team_unavailable = "team_unavailable"
    dog_unavailable = "dog_unavailable"
    site_inaccessible = "site_inaccessible"
    other = "other"
    not_reported = "not_reported"  # ended, and nobody recorded an outcome in time
    drawn_too_late = "drawn_too_late"  # no scheduler ran until after the visit's end


class VisitSite(SQLModel, table=True):
    """A place the dog or patrol teams visit, with its rate profile.

    Its slots are every `slot_seconds` from `slots_from` (the first slot whose drawing moment
    came after the site was made) until `slots_until` (set when the site is closed): the
    set the verifier expects one draw for each of.
    """

    __tablename__ = "visit_sites"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    name: str = Field(max_length=200)
    kind: str = Field(max_length=20)
    visit_seconds: int
    # Fixed at creation: a changed setting must not change the slots a past period had.
    slot_seconds: int
    slots_from: datetime = Field(sa_type=UTCDateTime)
    slots_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # JSON: 7 rows (Monday first) of 24 visits-per-hour rates (services/release/visits/rates.py).
    rates: str = Field(sa_column=Column(Text, nullable=False))
    created_by: str = Field(max_length=100)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # The logged events that fixed `slots_from` and `slots_until`: what the verifier holds
    # the site's slots to, so that moving either in the table to hide slots is seen.
    event_id: uuid.UUID
    closed_event_id: uuid.UUID | None = Field(default=None)
    # The logged event of the rate profile in force (its creation or the latest change).
    rates_event_id: uuid.UUID


class TeamMember(SQLModel, table=True):
    """An officer (a person of a customs or port-security party) on a site's team."""

    __tablename__ = "visit_team_members"

    site_id: uuid.UUID = Field(foreign_key="visit_sites.id", primary_key=True)
    person_id: uuid.UUID = Field(primary_key=True, index=True)
    party_id: str = Field(max_length=40)
    added_by: str = Field(max_length=100)
    added_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class VisitSlot(SQLModel, table=True):
    """One slot of a site, drawn once: a visit when its draw selected it."""

    __tablename__ = "visit_slots"
    __table_args__ = (UniqueConstraint("site_id", "slot_start"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    site_id: uuid.UUID = Field(foreign_key="visit_sites.id")
    slot_start: datetime = Field(sa_type=UTCDateTime, index=True)
    # Set in the transaction that claimed the slot; None only inside it.
    draw_id: uuid.UUID | None = Field(default=None)
    event_id: uuid.UUID | None = Field(default=None)
    visit: bool = False
    # Drawn after the slot had started (no scheduler ran at its drawing moment).
    late: bool = False
    # When the visit, had there been one, ends: until then nobody but the team learns of it.
    ends_at: datetime = Field(sa_type=UTCDateTime, index=True)
    drawn_at: datetime = Field(sa_type=UTCDateTime)
    # What the draw's probability came from: the profile's rate (visits per hour) at the
    # slot's start read in `zone`, and the logged event of that profile.
    rate: float = 0.0
    zone: str = Field(default="UTC", max_length=64)
    rates_event_id: uuid.UUID | None = Field(default=None)
    outcome: str | None = Field(default=None, max_length=16)
    reason: str | None = Field(default=None, max_length=32)
    note: str | None = Field(default=None, max_length=2000)
    outcome_by: str | None = Field(default=None, max_length=100)
    outcome_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
