"""The SQL of inspections: keys, draws and inspections.

This module is the one that writes `inspection_keys`, `inspection_draws` and `inspections`.
What a gate decision asks (`selection_state`) and the draw it stores are on the gate's hot
path: one statement built once with bound parameters, and a direct insert, for the reasons
`services.release.gate.repository` gives.
"""

import uuid
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, func, insert, update
from sqlalchemy import select as select_columns
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.release.gate.models import Decision, GateDecision
from services.release.inspections.models import (
    Draw,
    Inspection,
    InspectionKey,
    InspectionStatus,
)
from shared.audit.models import AuditCheckpoint
from shared.db import table_of
from shared.paging import keyset_page

_inspections = table_of(Inspection)
_decisions = table_of(GateDecision)
_draws = table_of(Draw)
_checkpoints = table_of(AuditCheckpoint)


@dataclass(frozen=True)
class SelectionState:
    """What decides a gate decision before any draw: the container's open inspection, the
    release's latest inspection, and the draw of the release's gate visit under way."""

    open_id: uuid.UUID | None
    open_draw: uuid.UUID | None
    latest_id: uuid.UUID | None
    latest_draw: uuid.UUID | None
    latest_status: str | None
    visit_draw: uuid.UUID | None
    # The audit log's latest signed checkpoint, which a draw cites (None before the first).
    checkpoint_size: int | None
    checkpoint_root: bytes | None
    checkpoint_note: str | None
    # The release's last container draw's visit number (0: none yet).
    last_visit: int


def _latest_inspection(column: Any, condition: Any) -> Any:
    return (
        select_columns(column)
        .where(condition)
        .order_by(_inspections.c.opened_at.desc())
        .limit(1)
        .scalar_subquery()
    )


_CONTAINER: Any = bindparam("container")
_RELEASE: Any = bindparam("release_id")
_OPEN = and_(_inspections.c.container == _CONTAINER, _inspections.c.status == InspectionStatus.open)
_OF_RELEASE = _inspections.c.release_id == _RELEASE
# A visit is a fresh `release` decision not yet completed (docs/inspections.md).
_VISIT_DRAW = (
    select_columns(_decisions.c.draw_id)
    .where(
        _decisions.c.release_id == _RELEASE,
        _decisions.c.decision == Decision.release,
        _decisions.c.completed_at.is_(None),
        _decisions.c.decided_at >= bindparam("decided_after"),
        _decisions.c.draw_id.is_not(None),
    )
    .order_by(_decisions.c.decided_at.desc())
    .limit(1)
    .scalar_subquery()
)


def _latest_checkpoint(column: Any) -> Any:
    return (
        select_columns(column)
        .order_by(_checkpoints.c.size.desc(), _checkpoints.c.id.desc())
        .limit(1)
        .scalar_subquery()
    )


_SELECTION_STATE = select_columns(
    _latest_inspection(_inspections.c.id, _OPEN).label("open_id"),
    _latest_inspection(_inspections.c.draw_id, _OPEN).label("open_draw"),
    _latest_inspection(_inspections.c.id, _OF_RELEASE).label("latest_id"),
    _latest_inspection(_inspections.c.draw_id, _OF_RELEASE).label("latest_draw"),
    _latest_inspection(_inspections.c.status, _OF_RELEASE).label("latest_status"),
    _VISIT_DRAW.label("visit_draw"),
    _latest_checkpoint(_checkpoints.c.size).label("checkpoint_size"),
    _latest_checkpoint(_checkpoints.c.root_hash).label("checkpoint_root"),
    _latest_checkpoint(_checkpoints.c.note).label("checkpoint_note"),
    select_columns(func.coalesce(func.max(_draws.c.visit), 0))
    .where(_draws.c.release_id == _RELEASE)
    .scalar_subquery()
    .label("last_visit"),
)


async def selection_state(
    session: AsyncSession, *, container: str, release_id: uuid.UUID, decided_after: datetime
) -> SelectionState:
    """Everything `select_at_gate` reads before it draws, the checkpoint a draw cites
    included, in one round trip."""
    statement: Any = _SELECTION_STATE
    params = {"container": container, "release_id": release_id, "decided_after": decided_after}
    row = (await session.exec(statement, params=params)).one()
    return SelectionState(**row._mapping)


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


_INSERT_DRAW = insert(_draws)


async def add_draw(session: AsyncSession, draw: Draw) -> None:
    """Store a draw, one INSERT (the caller appends its audit event in the same transaction)."""
    values = {column.name: getattr(draw, column.name) for column in _draws.columns}
    await session.exec(_INSERT_DRAW, params=values)


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
