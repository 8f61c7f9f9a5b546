"""API models of sites, their teams and rates, dispatch, visits and slots."""

import json
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.release.inspections.schemas import DrawView
from services.release.visits.models import (
    MissedReason,
    SiteKind,
    TeamMember,
    VisitOutcome,
    VisitSite,
    VisitSlot,
)

# Reasons only the scheduler records: a team member cannot claim the system failed.
SCHEDULER_REASONS = frozenset({MissedReason.not_reported, MissedReason.drawn_too_late})

Rates = list[list[float]]


class TeamMemberIn(BaseModel):
    """An officer on the team: his party and his person id at the identity service."""

    model_config = ConfigDict(extra="forbid")

    party_id: str = Field(min_length=1, max_length=40)
    person_id: uuid.UUID


class SiteCreate(BaseModel):
    """A new site (port security)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    kind: SiteKind
    visit_seconds: int = Field(ge=60, le=86400)
    # 7 rows (Monday first) of 24 visits-per-hour rates; none: no visits until set.
    rates: Rates | None = Field(default=None, max_length=7)
    team: list[TeamMemberIn] = Field(default_factory=list, max_length=100)


class SiteChange(BaseModel):
    """What to change of a site; `closed: true` ends its slots (for good)."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    kind: SiteKind | None = None
    visit_seconds: int | None = Field(default=None, ge=60, le=86400)
    closed: Literal[True] | None = None


class RateProfile(BaseModel):
    """A site's visits per hour, by day of week (Monday first) and hour of day."""

    model_config = ConfigDict(extra="forbid")

    rates: Rates = Field(max_length=7)


class TeamSet(BaseModel):
    """A site's whole team."""

    model_config = ConfigDict(extra="forbid")

    members: list[TeamMemberIn] = Field(max_length=100)


class TeamMemberView(BaseModel):
    """An officer on a site's team."""

    party_id: str
    person_id: uuid.UUID


class SiteView(BaseModel):
    """A site as port security manages it."""

    site_id: uuid.UUID
    name: str
    kind: str
    visit_seconds: int
    slot_seconds: int
    slots_from: datetime
    slots_until: datetime | None
    rates: Rates
    team: list[TeamMemberView]
    created_at: datetime
    updated_at: datetime
    # The events that fixed `slots_from` (`visit.site_created`) and `slots_until` (the
    # closing `visit.site_changed`), as the audit log holds them (RFC 8785 JSON).
    event_id: uuid.UUID
    logged_event: str | None
    closed_event_id: uuid.UUID | None
    closed_logged_event: str | None

    @classmethod
    def of(
        cls,
        site: VisitSite,
        team: list[TeamMember],
        logged: Mapping[uuid.UUID, str] | None = None,
    ) -> "SiteView":
        """The API form of a site and its team (with its logged events, when given)."""
        events = logged or {}
        closed = site.closed_event_id
        return cls(
            event_id=site.event_id,
            logged_event=events.get(site.event_id),
            closed_event_id=closed,
            closed_logged_event=events.get(closed) if closed is not None else None,
            site_id=site.id,
            name=site.name,
            kind=site.kind,
            visit_seconds=site.visit_seconds,
            slot_seconds=site.slot_seconds,
            slots_from=site.slots_from,
            slots_until=site.slots_until,
            rates=json.loads(site.rates),
            team=[TeamMemberView(party_id=m.party_id, person_id=m.person_id) for m in team],
            created_at=site.created_at,
            updated_at=site.updated_at,
        )


class SitePage(BaseModel):
    """One page of sites; `next` is the following page's cursor, None at the end."""

    sites: list[SiteView]
    next: str | None


class VisitView(BaseModel):
    """A visit, as its team sees it."""

    visit_id: uuid.UUID
    site_id: uuid.UUID
    starts_at: datetime
    ends_at: datetime
    late: bool
    outcome: str | None
    reason: str | None
    note: str | None
    outcome_by: str | None
    outcome_at: datetime | None

    @classmethod
    def of(cls, slot: VisitSlot) -> "VisitView":
        """The API form of a visit."""
        return cls(
            visit_id=slot.id,
            site_id=slot.site_id,
            starts_at=slot.slot_start,
            ends_at=slot.ends_at,
            late=slot.late,
            outcome=slot.outcome,
            reason=slot.reason,
            note=slot.note,
            outcome_by=slot.outcome_by,
            outcome_at=slot.outcome_at,
        )


class Dispatch(BaseModel):
    """A site's visits drawn and not yet ended: what its team is to do."""

    site_id: uuid.UUID
    name: str
    as_of: datetime
    visits: list[VisitView]


class VisitOutcomeRecord(BaseModel):
    """What became of a visit: `done`, or `missed` with a reason."""

    model_config = ConfigDict(extra="forbid")

    outcome: VisitOutcome
    reason: MissedReason | None = None
    note: str | None = Field(default=None, max_length=2000)

    @model_validator(mode="after")
    def _reason_for_missed_only(self) -> Self:
        if self.outcome == VisitOutcome.missed and self.reason is None:
            raise ValueError("a missed visit needs a reason")
        if self.outcome == VisitOutcome.done and self.reason is not None:
            raise ValueError("a visit done has no reason")
        if self.reason in SCHEDULER_REASONS:
            raise ValueError(f"{self.reason} is recorded by the scheduler only")
        return self


class SlotView(BaseModel):
    """A slot that is over, with its draw and its event as the log holds it."""

    slot_id: uuid.UUID
    site_id: uuid.UUID
    slot_start: datetime
    ends_at: datetime
    visit: bool
    late: bool
    drawn_at: datetime
    draw_id: uuid.UUID | None
    draw: DrawView | None
    outcome: str | None
    reason: str | None
    outcome_by: str | None
    outcome_at: datetime | None
    event_id: uuid.UUID | None
    # The slot's event (`visit.slot_drawn`, RFC 8785 JSON) as the audit log holds it.
    logged_event: str | None
    # Where the draw's probability came from: the rate at the slot's start, read in `zone`,
    # of the profile logged by the event `rates_event_id` (shown as the log holds it).
    rate: float
    zone: str
    rates_event_id: uuid.UUID | None
    rates_logged_event: str | None

    @classmethod
    def of(
        cls,
        slot: VisitSlot,
        draw: DrawView | None,
        logged: Mapping[uuid.UUID, str],
    ) -> "SlotView":
        """The published form of a slot that is over, with the logged events it names."""
        return cls(
            rate=slot.rate,
            zone=slot.zone,
            rates_event_id=slot.rates_event_id,
            rates_logged_event=_text(logged, slot.rates_event_id),
            logged_event=_text(logged, slot.event_id),
            slot_id=slot.id,
            site_id=slot.site_id,
            slot_start=slot.slot_start,
            ends_at=slot.ends_at,
            visit=slot.visit,
            late=slot.late,
            drawn_at=slot.drawn_at,
            draw_id=slot.draw_id,
            draw=draw,
            outcome=slot.outcome,
            reason=slot.reason,
            outcome_by=slot.outcome_by,
            outcome_at=slot.outcome_at,
            event_id=slot.event_id,
        )


def _text(logged: Mapping[uuid.UUID, str], event_id: uuid.UUID | None) -> str | None:
    return logged.get(event_id) if event_id is not None else None


class SlotPage(BaseModel):
    """One page of a period's slots that are over.

    Every slot of every site starting before `complete_until` is over (no visit lasts
    longer than the service's longest), so the listing holds all of them up to there;
    `next` is the following page's cursor, None at the end.
    """

    slots: list[SlotView]
    complete_until: datetime
    next: str | None
