"""The SQL of inspections: keys, draws and inspections.

This module is the one that writes `inspection_keys`, `inspection_draws` and `inspections`.
"""

import uuid
from collections.abc import Sequence
from contextlib import suppress
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.release.inspections.models import (
    Draw,
    Inspection,
    InspectionKey,
    InspectionStatus,
)
from services.release.paging import keyset_page


async def add_key_if_missing(session: AsyncSession, key_id: str, public_key: bytes) -> None:
    """Record a public key the first time it draws (in a savepoint: a race is harmless)."""
    if await session.get(InspectionKey, key_id) is not None:
        return
    with suppress(IntegrityError):  # another process published it first: the same row
        async with session.begin_nested():
            session.add(InspectionKey(key_id=key_id, public_key=public_key))


async def keys(session: AsyncSession) -> Sequence[InspectionKey]:
    """Every key the service has drawn with, oldest first."""
    statement = select(InspectionKey).order_by(col(InspectionKey.first_used_at))
    return (await session.exec(statement)).all()


async def add_draw(session: AsyncSession, draw: Draw) -> None:
    """Store a draw (the caller appends its audit event in the same transaction)."""
    session.add(draw)
    await session.flush()


async def draw(session: AsyncSession, draw_id: uuid.UUID) -> Draw | None:
    """One draw."""
    return await session.get(Draw, draw_id)


async def draws_between(
    session: AsyncSession,
    *,
    since: datetime,
    until: datetime,
    purpose: str | None,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> Sequence[Draw]:
    """Draws in [since, until), in (drawn_at, id) order, after a page's last one."""
    statement = select(Draw).where(col(Draw.drawn_at) >= since, col(Draw.drawn_at) < until)
    if purpose is not None:
        statement = statement.where(col(Draw.purpose) == purpose)
    statement = keyset_page(statement, col(Draw.drawn_at), col(Draw.id), after, limit)
    return (await session.exec(statement)).all()


async def open_inspection(session: AsyncSession, container: str) -> Inspection | None:
    """The open inspection of a container, if any."""
    statement = select(Inspection).where(
        col(Inspection.container) == container,
        col(Inspection.status) == InspectionStatus.open,
    )
    return (await session.exec(statement)).one_or_none()


async def add_inspection(session: AsyncSession, inspection: Inspection) -> bool:
    """Open an inspection; False when the container has one open already (a race lost)."""
    try:
        async with session.begin_nested():
            session.add(inspection)
    except IntegrityError:
        return False
    return True


async def add_closed_inspection(session: AsyncSession, inspection: Inspection) -> None:
    """Record a selection that was never open (selected over the day's capacity)."""
    session.add(inspection)
    await session.flush()


async def inspection(session: AsyncSession, inspection_id: uuid.UUID) -> Inspection | None:
    """One inspection."""
    return await session.get(Inspection, inspection_id)


async def close_inspection(
    session: AsyncSession,
    inspection_id: uuid.UUID,
    *,
    status: InspectionStatus,
    closed_by: str,
    note: str | None,
    now: datetime,
) -> bool:
    """Record an outcome on an open inspection; False when it was closed already."""
    result = await session.exec(
        update(Inspection)
        .where(
            col(Inspection.id) == inspection_id,
            col(Inspection.status) == InspectionStatus.open,
        )
        .values(status=status, closed_by=closed_by, closed_at=now, note=note)
    )
    return bool(result.rowcount)


async def request_cancellation(
    session: AsyncSession,
    inspection_id: uuid.UUID,
    *,
    actor: str,
    reason: str,
    now: datetime,
) -> bool:
    """The first officer's request; False unless the inspection is open with none pending."""
    result = await session.exec(
        update(Inspection)
        .where(
            col(Inspection.id) == inspection_id,
            col(Inspection.status) == InspectionStatus.open,
            col(Inspection.cancel_requested_by).is_(None),
        )
        .values(cancel_requested_by=actor, cancel_reason=reason, cancel_requested_at=now)
    )
    return bool(result.rowcount)


async def confirm_cancellation(
    session: AsyncSession, inspection_id: uuid.UUID, *, actor: str, reason: str, now: datetime
) -> bool:
    """The second officer's confirmation; False unless another officer asked, for `reason`."""
    result = await session.exec(
        update(Inspection)
        .where(
            col(Inspection.id) == inspection_id,
            col(Inspection.status) == InspectionStatus.open,
            col(Inspection.cancel_requested_by).is_not(None),
            col(Inspection.cancel_requested_by) != actor,
            col(Inspection.cancel_reason) == reason,
        )
        .values(status=InspectionStatus.cancelled, closed_by=actor, closed_at=now)
    )
    return bool(result.rowcount)


async def cancellations(
    session: AsyncSession, *, since: datetime, until: datetime
) -> Sequence[Inspection]:
    """Selections cancelled in [since, until)."""
    statement = select(Inspection).where(
        col(Inspection.status) == InspectionStatus.cancelled,
        col(Inspection.closed_at) >= since,
        col(Inspection.closed_at) < until,
    )
    return (await session.exec(statement)).all()


async def inspections(
    session: AsyncSession, *, terminal_id: str | None, status: str | None, limit: int
) -> Sequence[Inspection]:
    """Inspections, newest first; only a terminal's when `terminal_id` is given."""
    statement = select(Inspection)
    if terminal_id is not None:
        statement = statement.where(col(Inspection.terminal_id) == terminal_id)
    if status is not None:
        statement = statement.where(col(Inspection.status) == status)
    statement = statement.order_by(col(Inspection.opened_at).desc()).limit(limit)
    return (await session.exec(statement)).all()


async def latest_inspection_of_release(
    session: AsyncSession, release_id: uuid.UUID
) -> Inspection | None:
    """The most recent inspection of a release, open or closed."""
    statement = (
        select(Inspection)
        .where(col(Inspection.release_id) == release_id)
        .order_by(col(Inspection.opened_at).desc())
        .limit(1)
    )
    return (await session.exec(statement)).first()
