"""SQL of the release service's yearly figures: inspections, container draws, visits."""

from datetime import datetime

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.release.inspections.models import Draw, Inspection, Purpose
from services.release.visits.models import VisitSlot
from shared.figures import FigureRow


async def inspections(
    session: AsyncSession, *, since: datetime, until: datetime
) -> list[FigureRow]:
    """`inspections` rows: selections opened in [since, until) by terminal and where they
    stand now (open, clear, finding, seizure, cancelled, over_capacity)."""
    terminal, status = col(Inspection.terminal_id), col(Inspection.status)
    statement = (
        select(terminal, status, func.count())
        .where(col(Inspection.opened_at) >= since, col(Inspection.opened_at) < until)
        .group_by(terminal, status)
        .order_by(terminal, status)
    )
    return [
        FigureRow(figure="inspections", terminal=t, outcome=s, count=int(n))
        for t, s, n in (await session.exec(statement)).all()
    ]


async def container_draws(
    session: AsyncSession, *, since: datetime, until: datetime
) -> list[FigureRow]:
    """`container_draws` rows: gate draws of [since, until), selected or not."""
    selected = col(Draw.selected)
    statement = (
        select(selected, func.count())
        .where(
            col(Draw.purpose) == Purpose.container,
            col(Draw.drawn_at) >= since,
            col(Draw.drawn_at) < until,
        )
        .group_by(selected)
        .order_by(selected)
    )
    return [
        FigureRow(
            figure="container_draws",
            outcome="selected" if chosen else "not_selected",
            count=int(n),
        )
        for chosen, n in (await session.exec(statement)).all()
    ]


async def visits(session: AsyncSession, *, since: datetime, until: datetime) -> list[FigureRow]:
    """`visits` rows: drug-dog and patrol visits of slots starting in [since, until), by
    outcome (done, missed; empty while none is recorded). Not by site: the year's count of
    a site is not published."""
    outcome = col(VisitSlot.outcome)
    statement = (
        select(outcome, func.count())
        .where(
            col(VisitSlot.visit).is_(True),
            col(VisitSlot.slot_start) >= since,
            col(VisitSlot.slot_start) < until,
        )
        .group_by(outcome)
        .order_by(outcome)
    )
    return [
        FigureRow(figure="visits", outcome=o or "", count=int(n))
        for o, n in (await session.exec(statement)).all()
    ]
