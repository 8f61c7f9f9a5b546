"""SQL of releases and holds; `visible_to` is the one place that scopes what a caller reads."""

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, and_, exists, false, or_, true, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.release.auth import Caller
from services.release.chain.models import LIVE_STATUSES, Link, LinkKind
from services.release.releases.models import Hold, Release, ReleaseStatus

# Parties that oversee the whole port: they see every release.
OVERSEERS = ("port_security", "customs")


def visible_to(caller: Caller) -> ColumnElement[bool]:
    """The releases the caller may read (docs/design.md, Invariants 3, need-to-know)."""
    if any(caller.has(role) for role in OVERSEERS):
        return true()
    live = col(Link.status).in_(LIVE_STATUSES)
    if caller.is_driver:
        return exists().where(
            col(Link.release_id) == col(Release.id),
            col(Link.kind) == LinkKind.assignment,
            col(Link.to) == str(caller.principal.person_id),
            live,
        )
    party = caller.party_id
    clauses: list[ColumnElement[bool]] = [
        col(Release.shipping_line_id) == party,
        exists().where(
            col(Link.release_id) == col(Release.id),
            live,
            or_(col(Link.from_party) == party, col(Link.receiver_party) == party),
        ),
    ]
    if caller.has("terminal"):
        clauses.append(col(Release.terminal_id) == party)
    return or_(*clauses) if clauses else false()


async def get_visible(
    session: AsyncSession, caller: Caller, release_id: uuid.UUID, *, for_update: bool = False
) -> Release | None:
    """The release, if it exists and the caller may see it (locked for a change)."""
    statement = select(Release).where(col(Release.id) == release_id, visible_to(caller))
    if for_update:
        statement = statement.with_for_update(of=Release)
    return (await session.exec(statement)).first()


async def search_visible(
    session: AsyncSession, caller: Caller, *, container: str, limit: int
) -> Sequence[Release]:
    """The caller's visible releases of a container, newest first."""
    statement = (
        select(Release)
        .where(col(Release.container) == container, visible_to(caller))
        .order_by(col(Release.created_at).desc())
        .limit(limit)
    )
    return (await session.exec(statement)).all()


async def open_for_container(session: AsyncSession, container: str) -> Release | None:
    """The open release of a container, if any (there is at most one)."""
    statement = select(Release).where(
        col(Release.container) == container, col(Release.status) == ReleaseStatus.open
    )
    return (await session.exec(statement)).first()


async def latest_for_container(session: AsyncSession, container: str) -> Release | None:
    """The newest release of a container, whatever its status."""
    statement = (
        select(Release)
        .where(col(Release.container) == container)
        .order_by(col(Release.created_at).desc())
        .limit(1)
    )
    return (await session.exec(statement)).first()


async def close_if_open(
    session: AsyncSession, release_id: uuid.UUID, *, status: ReleaseStatus, now: datetime
) -> bool:
    """Move an open release to `status`; False if it was not open (someone else won)."""
    result = await session.exec(
        update(Release)
        .where(and_(col(Release.id) == release_id, col(Release.status) == ReleaseStatus.open))
        .values(status=status, closed_at=now, updated_at=now)
    )
    return bool(result.rowcount)


async def holds(session: AsyncSession, release_id: uuid.UUID) -> Sequence[Hold]:
    """The holds on a release."""
    statement = select(Hold).where(col(Hold.release_id) == release_id).order_by(col(Hold.kind))
    return (await session.exec(statement)).all()


async def get_hold(session: AsyncSession, release_id: uuid.UUID, kind: str) -> Hold | None:
    """One hold."""
    return await session.get(Hold, (release_id, kind))


async def open_release_at(
    session: AsyncSession, *, container: str, terminal_id: str, shipping_line_id: str
) -> Release | None:
    """The open release a line made of a container at a terminal, locked for a change."""
    statement = (
        select(Release)
        .where(
            col(Release.container) == container,
            col(Release.terminal_id) == terminal_id,
            col(Release.shipping_line_id) == shipping_line_id,
            col(Release.status) == ReleaseStatus.open,
        )
        .with_for_update(of=Release)
    )
    return (await session.exec(statement)).first()
