"""SQL of yard entries; `visible_to` is the one place that scopes what a caller reads.

This module is the one that writes the `yard_entries` table.
"""

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, false, or_, true
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.release.auth import Caller
from services.release.yard.models import YardEntry

# Parties that oversee the whole port: they see every entry.
OVERSEERS = ("port_security", "customs")


def visible_to(caller: Caller) -> ColumnElement[bool]:
    """The entries the caller may read: his terminal's, or the live ones naming his line."""
    if any(caller.has(role) for role in OVERSEERS):
        return true()
    if caller.is_driver:
        return false()
    clauses: list[ColumnElement[bool]] = []
    if caller.has("terminal"):
        clauses.append(col(YardEntry.terminal_id) == caller.party_id)
    if caller.has("shipping_line"):
        # A line sees what it may release, not what the terminal once said and took back.
        clauses.append(
            (col(YardEntry.shipping_line_id) == caller.party_id)
            & col(YardEntry.withdrawn_at).is_(None)
        )
    return or_(*clauses) if clauses else false()


async def search_visible(
    session: AsyncSession,
    caller: Caller,
    *,
    container: str | None,
    include_withdrawn: bool,
    limit: int,
) -> Sequence[YardEntry]:
    """The caller's visible entries, newest first."""
    statement = select(YardEntry).where(visible_to(caller))
    if container is not None:
        statement = statement.where(col(YardEntry.container) == container)
    if not include_withdrawn:
        statement = statement.where(col(YardEntry.withdrawn_at).is_(None))
    statement = statement.order_by(col(YardEntry.announced_at).desc()).limit(limit)
    return (await session.exec(statement)).all()


async def of_terminal(
    session: AsyncSession, terminal_id: str, *, container: str | None, include_withdrawn: bool
) -> Sequence[YardEntry]:
    """A terminal's entries, newest first (the command line's listing)."""
    statement = select(YardEntry).where(col(YardEntry.terminal_id) == terminal_id)
    if container is not None:
        statement = statement.where(col(YardEntry.container) == container)
    if not include_withdrawn:
        statement = statement.where(col(YardEntry.withdrawn_at).is_(None))
    return (await session.exec(statement.order_by(col(YardEntry.announced_at).desc()))).all()


async def get_own_live(
    session: AsyncSession, terminal_id: str, entry_id: uuid.UUID
) -> YardEntry | None:
    """A live entry of this terminal, locked for a change."""
    statement = (
        select(YardEntry)
        .where(
            col(YardEntry.id) == entry_id,
            col(YardEntry.terminal_id) == terminal_id,
            col(YardEntry.withdrawn_at).is_(None),
        )
        .with_for_update()
    )
    return (await session.exec(statement)).first()


async def live_entry(session: AsyncSession, terminal_id: str, container: str) -> YardEntry | None:
    """The live entry of a container at a terminal (there is at most one)."""
    statement = select(YardEntry).where(
        col(YardEntry.terminal_id) == terminal_id,
        col(YardEntry.container) == container,
        col(YardEntry.withdrawn_at).is_(None),
    )
    return (await session.exec(statement)).first()


async def current_entry(
    session: AsyncSession, terminal_id: str, container: str, *, now: datetime
) -> YardEntry | None:
    """The entry that gives the release right now: live and not past its end.

    Locked: a withdrawal or correction (which lock the entry too) waits for the release
    being made under it, and then finds that release to cancel.
    """
    statement = (
        select(YardEntry)
        .where(
            col(YardEntry.terminal_id) == terminal_id,
            col(YardEntry.container) == container,
            col(YardEntry.withdrawn_at).is_(None),
            or_(col(YardEntry.valid_until).is_(None), col(YardEntry.valid_until) > now),
        )
        .with_for_update()
    )
    return (await session.exec(statement)).first()


async def insert_entry(session: AsyncSession, entry: YardEntry) -> bool:
    """Insert an entry in a savepoint; False when a constraint refuses it (the container has
    a live entry at the terminal already), the rest of the transaction untouched."""
    try:
        async with session.begin_nested():
            session.add(entry)
    except IntegrityError:
        return False
    return True


def save(session: AsyncSession, entry: YardEntry) -> None:
    """Write an entry's changed facts (with the transaction)."""
    session.add(entry)
