"""SQL of the access log: the sealer's queue, the verifier's groups, retention by range."""

import json
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import RowMapping, delete, func, select, update
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from services.release.access.models import AccessLogEntry
from shared.audit.models import AuditEvent
from shared.db import table_of

TABLE = table_of(AccessLogEntry)
# The columns a seal commits to, in the order of the canonical row (not `sealed_in`).
SEALED_COLUMNS = (
    "id",
    "at",
    "actor",
    "party_id",
    "person_id",
    "action",
    "release_id",
    "container",
    "outcome",
    "results",
    "endpoint",
)
_ROW = [TABLE.c[name] for name in SEALED_COLUMNS]


async def unsealed(session: AsyncSession, limit: int) -> list[RowMapping]:
    """Committed rows no seal holds yet, lowest id first."""
    result = await (await session.connection()).execute(
        select(*_ROW).where(TABLE.c.sealed_in.is_(None)).order_by(TABLE.c.id).limit(limit)
    )
    return list(result.mappings())


async def mark_sealed(
    session: AsyncSession, ids: Sequence[int], seal: int, *, start: datetime, end: datetime
) -> None:
    """Name the seal that holds these rows, all of the month [start, end): one statement,
    which PostgreSQL runs against that month's partition alone."""
    statement = (
        update(TABLE)
        .where(
            TABLE.c.id.in_(ids),
            TABLE.c.at >= start,
            TABLE.c.at < end,
            TABLE.c.sealed_in.is_(None),
        )
        .values(sealed_in=seal)
    )
    await (await session.connection()).execute(statement)


async def sealed_rows(
    session: AsyncSession, since: datetime | None = None
) -> AsyncIterator[tuple[int | None, RowMapping]]:
    """Every row (from `since` on) with its seal, grouped by seal (unsealed last), in id order
    within each."""
    statement = select(TABLE.c.sealed_in, *_ROW).order_by(
        TABLE.c.sealed_in.is_(None), TABLE.c.sealed_in, TABLE.c.id
    )
    if since is not None:
        statement = statement.where(TABLE.c.at >= since)
    result = await (await session.connection()).stream(statement.execution_options(yield_per=2000))
    async for row in result.mappings():
        yield row["sealed_in"], row


async def logged(session: AsyncSession, event_type: str) -> list[dict[str, Any]]:
    """The audit events of one type, oldest first, as their JSON objects."""
    result = await (await session.connection()).execute(
        select(col(AuditEvent.event))
        .where(col(AuditEvent.event_type) == event_type)
        .order_by(col(AuditEvent.id))
    )
    return [json.loads(text) for text in result.scalars()]


async def delete_before(session: AsyncSession, before: datetime) -> int:
    """Delete the rows older than `before` (SQLite's retention; PostgreSQL's default part)."""
    result = await (await session.connection()).execute(delete(TABLE).where(TABLE.c.at < before))
    return int(result.rowcount)


async def count_before(session: AsyncSession, before: datetime) -> int:
    """How many rows are older than `before`."""
    result = await (await session.connection()).execute(
        select(func.count()).where(TABLE.c.at < before)
    )
    return int(result.scalar_one())
