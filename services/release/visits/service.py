"""Visits: sites managed by port security, slots drawn just in time, outcomes by the team.

- Port security makes and changes sites, their teams and rate profiles; a person on a site's
  team may not manage that site (`team_member_manages_site`): who is visited must not set
  how often.
- Each slot of a site is drawn once (`draw_slot`), by whichever scheduler claims it first,
  no earlier than the lead time before it starts. The draw's probability is the site's
  rate at the slot's start times the slot's length (`rates.slot_probability`).
- A visit exists only once drawn, and only the site's team sees it before it ends
  (`dispatch`); everyone else, port security included, sees slots once they are over.
- The team records the outcome: `done`, or `missed` with a reason; a missed visit raises an
  alert. A visit that ended unreported is recorded missed (`not_reported`) by the scheduler,
  and one drawn only after its end (no scheduler ran) is recorded `drawn_too_late`.
"""

import json
import uuid
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel.ext.asyncio.session import AsyncSession

from services.release.alerts.service import raise_alert
from services.release.auth import Caller, allows
from services.release.inspections.draws import draw
from services.release.inspections.keys import DrawingKey
from services.release.inspections.models import Purpose
from services.release.visits import repository
from services.release.visits.models import (
    MissedReason,
    TeamMember,
    VisitOutcome,
    VisitSite,
    VisitSlot,
)
from services.release.visits.rates import Profile, check_profile, rate_at, slot_probability
from services.release.visits.slots import slot_ceil, slot_floor, slot_name
from shared.audit.events import append
from shared.problems import Conflict, Forbidden, InvalidInput, NotFound

# Who may be on a team and read its dispatch: an officer of one of these parties.
TEAM_PARTY_ROLES = ("customs", "port_security")


def site_not_found() -> NotFound:
    """One answer for a site that does not exist or that the caller may not see."""
    return NotFound("site_not_found", "no such site")


def profile_of(site: VisitSite) -> Profile:
    """A site's rate profile."""
    rates: Profile = json.loads(site.rates)
    return rates


def _checked_profile(rates: Profile) -> str:
    problem = check_profile(rates)
    if problem is not None:
        raise InvalidInput("rates_invalid", problem)
    return json.dumps(rates)


async def _managed(session: AsyncSession, caller: Caller, site_id: uuid.UUID) -> VisitSite:
    """A site this caller (port security) may change: not one whose team he is on."""
    site = await repository.site(session, site_id)
    if site is None:
        raise site_not_found()
    if caller.principal.person_id is not None and await repository.is_member(
        session, site_id, person_id=caller.principal.person_id, party_id=caller.party_id
    ):
        raise Forbidden(
            "team_member_manages_site", "a member of a site's team may not manage that site"
        )
    return site


async def create_site(
    session: AsyncSession,
    *,
    caller: Caller,
    name: str,
    kind: str,
    visit_seconds: int,
    rates: Profile,
    slot_seconds: int,
    lead_seconds: int,
    now: datetime,
) -> VisitSite:
    """A new site; its first slot is the first whose drawing moment is after now."""
    site_id = uuid.uuid4()
    slots_from = slot_ceil(now + timedelta(seconds=lead_seconds), slot_seconds)
    stored_rates = _checked_profile(rates)  # before logging: the log takes finite numbers only
    event_id = await append(
        session,
        "visit.site_created",
        {
            "site_id": str(site_id),
            "name": name,
            "kind": kind,
            "visit_seconds": visit_seconds,
            "slot_seconds": slot_seconds,
            "slots_from": slot_name(slots_from),
            "rates": rates,
            "actor": caller.principal.actor,
        },
    )
    site = VisitSite(
        id=site_id,
        name=name,
        kind=kind,
        visit_seconds=visit_seconds,
        slot_seconds=slot_seconds,
        slots_from=slots_from,
        rates=stored_rates,
        created_by=caller.principal.actor,
        created_at=now,
        updated_at=now,
        event_id=event_id,
        rates_event_id=event_id,
    )
    await repository.add_site(session, site)
    return site


async def change_site(
    session: AsyncSession,
    *,
    caller: Caller,
    site_id: uuid.UUID,
    changes: dict[str, Any],
    close: bool,
    lead_seconds: int,
    now: datetime,
) -> VisitSite:
    """Rename, retype, change the visit length or close a site (no slot after the ones
    that may be drawn already)."""
    site = await _managed(session, caller, site_id)
    if site.slots_until is not None:
        raise Conflict("site_closed", "the site is closed")
    values = dict(changes)
    if close:
        # Every slot whose drawing moment has come may have been drawn: those stay, and are
        # drawn if not yet; none after them.
        last = slot_floor(now + timedelta(seconds=lead_seconds), site.slot_seconds)
        values["slots_until"] = max(site.slots_from, last + timedelta(seconds=site.slot_seconds))
    if not values:
        return site
    await repository.update_site(session, site_id, **values, updated_at=now)
    logged = {
        key: slot_name(value) if isinstance(value, datetime) else value
        for key, value in values.items()
    }
    event_id = await append(
        session,
        "visit.site_changed",
        {"site_id": str(site_id), **logged, "actor": caller.principal.actor},
    )
    if close:
        await repository.update_site(session, site_id, closed_event_id=event_id)
    await session.refresh(site)
    return site


async def set_rates(
    session: AsyncSession, *, caller: Caller, site_id: uuid.UUID, rates: Profile, now: datetime
) -> VisitSite:
    """Set a site's rate profile; it applies to slots not drawn yet."""
    site = await _managed(session, caller, site_id)
    stored = _checked_profile(rates)  # before logging: the log takes finite numbers only
    event_id = await append(
        session,
        "visit.rates_set",
        {"site_id": str(site_id), "rates": rates, "actor": caller.principal.actor},
    )
    await repository.update_site(
        session, site_id, rates=stored, rates_event_id=event_id, updated_at=now
    )
    await session.refresh(site)
    return site


async def set_team(
    session: AsyncSession,
    *,
    caller: Caller,
    site_id: uuid.UUID,
    members: list[tuple[str, uuid.UUID]],
    now: datetime,
) -> VisitSite:
    """Make these (party, person) pairs the site's team."""
    site = await _managed(session, caller, site_id)
    if len({person for _, person in members}) != len(members):
        raise InvalidInput("team_invalid", "a person is on a team once")
    await repository.replace_team(
        session,
        site_id,
        [
            TeamMember(
                site_id=site_id,
                person_id=person,
                party_id=party,
                added_by=caller.principal.actor,
                added_at=now,
            )
            for party, person in members
        ],
    )
    await repository.update_site(session, site_id, updated_at=now)
    await append(
        session,
        "visit.team_set",
        {
            "site_id": str(site_id),
            "members": [{"party_id": party, "person_id": str(person)} for party, person in members],
            "actor": caller.principal.actor,
        },
    )
    await session.refresh(site)
    return site


async def team_site(session: AsyncSession, caller: Caller, site_id: uuid.UUID) -> VisitSite:
    """The site, if the caller is an officer on its team; 404 otherwise (need-to-know)."""
    person = caller.principal.person_id
    if (
        person is None
        or not allows(caller, "inspections")
        or not any(caller.has(role) for role in TEAM_PARTY_ROLES)
    ):
        raise site_not_found()
    site = await repository.site(session, site_id)
    if site is None or not await repository.is_member(
        session, site_id, person_id=person, party_id=caller.party_id
    ):
        raise site_not_found()
    return site


async def dispatch(
    session: AsyncSession, *, caller: Caller, site_id: uuid.UUID, now: datetime
) -> tuple[VisitSite, list[VisitSlot]]:
    """The site's visits drawn and not yet ended, for a member of its team."""
    site = await team_site(session, caller, site_id)
    return site, list(await repository.dispatch(session, site_id, now))


async def _alert_missed(
    session: AsyncSession, slot: VisitSlot, *, reason: str, actor: str, now: datetime
) -> uuid.UUID:
    # Nobody said anything, or no scheduler ran: worse than a team that says it missed one.
    unexplained = reason in (MissedReason.not_reported, MissedReason.drawn_too_late)
    severity = "high" if unexplained else "medium"
    return await raise_alert(
        session,
        kind="visit_missed",
        severity=severity,
        summary=f"visit of {slot_name(slot.slot_start)} missed ({reason})",
        facts={
            "site_id": str(slot.site_id),
            "visit_id": str(slot.id),
            "slot": slot_name(slot.slot_start),
            "reason": reason,
            "actor": actor,
        },
        now=now,
    )


async def record_outcome(
    session: AsyncSession,
    *,
    caller: Caller,
    site_id: uuid.UUID,
    visit_id: uuid.UUID,
    outcome: VisitOutcome,
    reason: MissedReason | None,
    note: str | None,
    now: datetime,
) -> VisitSlot:
    """Record what became of a visit that has started; a missed one raises an alert."""
    await team_site(session, caller, site_id)
    slot = await repository.slot(session, visit_id)
    if slot is None or slot.site_id != site_id or not slot.visit:
        raise NotFound("visit_not_found", "no such visit")
    if now < slot.slot_start:
        raise Conflict("visit_not_started", "an outcome is recorded once the visit has started")
    if slot.outcome is not None:
        raise Conflict("visit_outcome_recorded", f"the visit is {slot.outcome} already")
    actor = caller.principal.actor
    if not await repository.record_outcome(
        session, visit_id, outcome=outcome, reason=reason, note=note, actor=actor, now=now
    ):
        raise Conflict("visit_outcome_recorded", "an outcome was recorded meanwhile")
    await append(
        session,
        "visit.outcome",
        {
            "visit_id": str(visit_id),
            "site_id": str(site_id),
            "slot": slot_name(slot.slot_start),
            "outcome": str(outcome),
            "reason": None if reason is None else str(reason),
            "actor": actor,
        },
    )
    if outcome == VisitOutcome.missed:
        await _alert_missed(session, slot, reason=str(reason), actor=actor, now=now)
    await session.refresh(slot)
    return slot


async def draw_slot(
    session: AsyncSession,
    *,
    key: DrawingKey,
    site: VisitSite,
    slot_start: datetime,
    zone: ZoneInfo,
    now: datetime,
) -> VisitSlot | None:
    """Claim and draw one slot; None when another process claimed it first (it draws)."""
    ends_at = slot_start + timedelta(seconds=site.visit_seconds)
    late = now > slot_start
    slot_id = await repository.claim_slot(
        session, site_id=site.id, slot_start=slot_start, ends_at=ends_at, late=late, now=now
    )
    if slot_id is None:
        return None
    rate = rate_at(profile_of(site), slot_start, zone)
    zone_name = str(zone.key)
    made = await draw(
        session,
        key=key,
        purpose=Purpose.visit,
        subject={"site": str(site.id), "slot": slot_name(slot_start)},
        probability=slot_probability(rate, site.slot_seconds),
        now=now,
    )
    over = made.selected and ends_at <= now
    event_id = await append(
        session,
        "visit.slot_drawn",
        {
            "slot_id": str(slot_id),
            "site_id": str(site.id),
            "slot": slot_name(slot_start),
            "draw_id": str(made.id),
            "visit": made.selected,
            "late": late,
            "rate": rate,
            "zone": zone_name,
            "rates_event_id": str(site.rates_event_id),
        },
    )
    outcome = None
    if over:
        outcome = {
            "outcome": VisitOutcome.missed,
            "reason": MissedReason.drawn_too_late,
            "outcome_by": "scheduler",
            "outcome_at": now,
        }
    await repository.settle_slot(
        session,
        slot_id,
        draw_id=made.id,
        event_id=event_id,
        visit=made.selected,
        rate=rate,
        zone=zone_name,
        rates_event_id=site.rates_event_id,
        outcome=outcome,
    )
    slot = await repository.slot(session, slot_id)
    if slot is None:  # claimed in this very transaction: only a broken database loses it
        raise RuntimeError(f"visit slot {slot_id} vanished while being drawn")
    await session.refresh(slot)
    if over:
        await _alert_missed(
            session, slot, reason=MissedReason.drawn_too_late, actor="scheduler", now=now
        )
    return slot


async def close_unreported(session: AsyncSession, *, grace_seconds: int, now: datetime) -> int:
    """Record as missed (`not_reported`) every visit that ended over the grace time ago
    without an outcome, each with its alert; how many."""
    closed = 0
    for slot in await repository.unreported(
        session, ended_before=now - timedelta(seconds=grace_seconds)
    ):
        if not await repository.record_outcome(
            session,
            slot.id,
            outcome=VisitOutcome.missed,
            reason=MissedReason.not_reported,
            note=None,
            actor="scheduler",
            now=now,
        ):
            continue  # another scheduler did it a moment ago
        await append(
            session,
            "visit.outcome",
            {
                "visit_id": str(slot.id),
                "site_id": str(slot.site_id),
                "slot": slot_name(slot.slot_start),
                "outcome": VisitOutcome.missed.value,
                "reason": MissedReason.not_reported.value,
                "actor": "scheduler",
            },
        )
        await _alert_missed(
            session, slot, reason=MissedReason.not_reported, actor="scheduler", now=now
        )
        closed += 1
    return closed
