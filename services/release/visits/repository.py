"""The SQL of visits: sites, teams and slots.

This module is the one that writes `visit_sites`, `visit_team_members` and `visit_slots`.
"""

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.release.inspections.models import Draw
from services.release.visits.models import TeamMember, VisitSite, VisitSlot
from shared.db import insert_once
from shared.models import UTCDateTime
from shared.paging import keyset_page


async def add_site(session: AsyncSession, site: VisitSite) -> None:
    """Store a new site."""
    session.add(site)
    await session.flush()


async def site(session: AsyncSession, site_id: uuid.UUID) -> VisitSite | None:
    """One site."""
    return await session.get(VisitSite, site_id)


async def sites(
    session: AsyncSession, *, after: tuple[datetime, uuid.UUID] | None, limit: int
) -> Sequence[VisitSite]:
    """Sites in (created_at, id) order, after a page's last one."""
    statement = select(VisitSite)
    statement = keyset_page(statement, col(VisitSite.created_at), col(VisitSite.id), after, limit)
    return (await session.exec(statement)).all()


async def update_site(session: AsyncSession, site_id: uuid.UUID, **values: Any) -> None:
    """Change a site's columns."""
    await session.exec(update(VisitSite).where(col(VisitSite.id) == site_id).values(**values))


async def sites_with_last_slot(session: AsyncSession) -> list[tuple[VisitSite, datetime | None]]:
    """Every site with the start of its latest claimed slot (None before its first)."""
    latest = (
        select(
            col(VisitSlot.site_id),
            func.max(VisitSlot.slot_start, type_=UTCDateTime()).label("last"),
        )
        .group_by(col(VisitSlot.site_id))
        .subquery()
    )
    statement = (
        select(VisitSite, latest.c.last)
        .outerjoin(latest, latest.c.site_id == col(VisitSite.id))
        .order_by(col(VisitSite.id))
    )
    rows = (await session.exec(statement)).all()
    return [(found, last) for found, last in rows]


async def team(session: AsyncSession, site_id: uuid.UUID) -> Sequence[TeamMember]:
    """A site's team."""
    statement = (
        select(TeamMember)
        .where(col(TeamMember.site_id) == site_id)
        .order_by(col(TeamMember.party_id), col(TeamMember.person_id))
    )
    return (await session.exec(statement)).all()


async def replace_team(
    session: AsyncSession, site_id: uuid.UUID, members: Iterable[TeamMember]
) -> None:
    """Make `members` the site's whole team."""
    await session.exec(delete(TeamMember).where(col(TeamMember.site_id) == site_id))
    session.add_all(list(members))
    await session.flush()


async def is_member(
    session: AsyncSession, site_id: uuid.UUID, *, person_id: uuid.UUID, party_id: str
) -> bool:
    """Whether this person of this party is on the site's team."""
    found = await session.get(TeamMember, (site_id, person_id))
    return found is not None and found.party_id == party_id


async def claim_slot(
    session: AsyncSession,
    *,
    site_id: uuid.UUID,
    slot_start: datetime,
    ends_at: datetime,
    late: bool,
    now: datetime,
) -> uuid.UUID | None:
    """Claim a slot for drawing; its id, or None when another process claimed it first.

    One `INSERT … ON CONFLICT DO NOTHING` on the (site, slot start) key: on PostgreSQL a
    second claimant waits for the first's transaction and then finds the row; on SQLite
    writers take turns. Either way exactly one transaction gets the row.
    """
    slot_id = uuid.uuid4()
    claimed = await insert_once(
        session,
        VisitSlot,
        id=slot_id,
        site_id=site_id,
        slot_start=slot_start,
        draw_id=None,
        event_id=None,
        visit=False,
        late=late,
        ends_at=ends_at,
        drawn_at=now,
        rate=0.0,
        zone="UTC",
        rates_event_id=None,
        outcome=None,
        reason=None,
        note=None,
        outcome_by=None,
        outcome_at=None,
    )
    return slot_id if claimed else None


async def settle_slot(
    session: AsyncSession,
    slot_id: uuid.UUID,
    *,
    draw_id: uuid.UUID,
    event_id: uuid.UUID,
    visit: bool,
    rate: float,
    zone: str,
    rates_event_id: uuid.UUID,
    outcome: dict[str, Any] | None = None,
) -> None:
    """Write the draw a claimed slot got (and, for a visit over already, its outcome)."""
    values: dict[str, Any] = {
        "draw_id": draw_id,
        "event_id": event_id,
        "visit": visit,
        "rate": rate,
        "zone": zone,
        "rates_event_id": rates_event_id,
    }
    await session.exec(
        update(VisitSlot).where(col(VisitSlot.id) == slot_id).values(**values, **(outcome or {}))
    )


async def slot(session: AsyncSession, slot_id: uuid.UUID) -> VisitSlot | None:
    """One slot."""
    return await session.get(VisitSlot, slot_id)


async def dispatch(session: AsyncSession, site_id: uuid.UUID, now: datetime) -> Sequence[VisitSlot]:
    """A site's visits drawn and not yet ended, soonest first."""
    statement = (
        select(VisitSlot)
        .where(
            col(VisitSlot.site_id) == site_id,
            col(VisitSlot.visit).is_(True),
            col(VisitSlot.ends_at) > now,
        )
        .order_by(col(VisitSlot.slot_start))
    )
    return (await session.exec(statement)).all()


async def record_outcome(
    session: AsyncSession,
    slot_id: uuid.UUID,
    *,
    outcome: str,
    reason: str | None,
    note: str | None,
    actor: str,
    now: datetime,
) -> bool:
    """Record a visit's outcome; False when one was recorded already."""
    result = await session.exec(
        update(VisitSlot)
        .where(
            col(VisitSlot.id) == slot_id,
            col(VisitSlot.visit).is_(True),
            col(VisitSlot.outcome).is_(None),
        )
        .values(outcome=outcome, reason=reason, note=note, outcome_by=actor, outcome_at=now)
    )
    return bool(result.rowcount)


async def past_slots(
    session: AsyncSession,
    *,
    since: datetime,
    until: datetime,
    now: datetime,
    site_id: uuid.UUID | None,
    visits_only: bool,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> Sequence[VisitSlot]:
    """Slots starting in [since, until) whose visit (had there been one) has ended, in
    (slot start, id) order, after a page's last one."""
    statement = select(VisitSlot).where(
        col(VisitSlot.slot_start) >= since,
        col(VisitSlot.slot_start) < until,
        col(VisitSlot.ends_at) <= now,
    )
    if site_id is not None:
        statement = statement.where(col(VisitSlot.site_id) == site_id)
    if visits_only:
        statement = statement.where(col(VisitSlot.visit).is_(True))
    statement = keyset_page(statement, col(VisitSlot.slot_start), col(VisitSlot.id), after, limit)
    return (await session.exec(statement)).all()


async def undisclosed_draws(
    session: AsyncSession, draw_ids: Sequence[uuid.UUID], now: datetime
) -> set[uuid.UUID]:
    """Those of `draw_ids` that decided a slot not yet over: nobody may read them yet."""
    if not draw_ids:
        return set()
    statement = select(col(VisitSlot.draw_id)).where(
        col(VisitSlot.draw_id).in_(list(draw_ids)), col(VisitSlot.ends_at) > now
    )
    return {draw_id for draw_id in (await session.exec(statement)).all() if draw_id is not None}


async def unreported(session: AsyncSession, *, ended_before: datetime) -> Sequence[VisitSlot]:
    """Visits that ended before the moment with no outcome recorded."""
    statement = select(VisitSlot).where(
        col(VisitSlot.visit).is_(True),
        col(VisitSlot.outcome).is_(None),
        col(VisitSlot.ends_at) <= ended_before,
    )
    return (await session.exec(statement)).all()


async def draws_of(session: AsyncSession, draw_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Draw]:
    """The draws of these slots, by id (read only: the inspections repository writes them)."""
    if not draw_ids:
        return {}
    statement = select(Draw).where(col(Draw.id).in_(list(draw_ids)))
    return {found.id: found for found in (await session.exec(statement)).all()}
