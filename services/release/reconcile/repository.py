"""SQL of the reconciliation: the log's events in pages, and the compared tables' rows.

Everything is read in one transaction that sees one snapshot (`begin_snapshot`), so that an
event and the rows it wrote are seen together or not at all: on PostgreSQL a repeatable-read
transaction, on SQLite a deferred read transaction (WAL readers keep their snapshot). Events
come in keyset pages by `log_index`; the tables are streamed. Nothing here keeps more than a
page.
"""

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select, text
from sqlmodel.ext.asyncio.session import AsyncSession

from services.release.gate.models import GateOut
from services.release.releases.models import Hold, Release
from shared.audit.models import AuditEvent
from shared.db import table_of

_events = table_of(AuditEvent)
_releases = table_of(Release)
_holds = table_of(Hold)
_gate_outs = table_of(GateOut)

# Built once, values bound per page (a statement per page would be compiled per page).
_INTEGRATED_PAGE = (
    select(_events.c.log_index, _events.c.salt, _events.c.commitment, _events.c.event)
    .where(_events.c.log_index >= bindparam("first"), _events.c.log_index < bindparam("end"))
    .order_by(_events.c.log_index)
)
# Pending, in the order the tree has or will have them: integrated but not yet signed (by
# index, on the unique index), then not yet integrated (by row id, on the partial index the
# sequencer's queue uses). Neither scans the table.
_UNSIGNED = (
    select(_events.c.log_index, _events.c.event)
    .where(_events.c.log_index >= bindparam("start"))
    .order_by(_events.c.log_index)
    .limit(bindparam("page"))
)
_UNINTEGRATED = (
    select(_events.c.id, _events.c.event)
    .where(_events.c.log_index.is_(None), _events.c.id >= bindparam("start"))
    .order_by(_events.c.id)
    .limit(bindparam("page"))
)
_RELEASE_ROWS = select(
    _releases.c.id,
    _releases.c.container,
    _releases.c.terminal_id,
    _releases.c.shipping_line_id,
    _releases.c.first_party_id,
    _releases.c.valid_until,
    _releases.c.status,
)
_HOLD_ROWS = select(_holds.c.release_id, _holds.c.kind)
_GATE_OUT_ROWS = select(_gate_outs.c.release_id, _gate_outs.c.decision_id)


def _on_postgres(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "postgresql"


async def begin_snapshot(session: AsyncSession) -> None:
    """Start the session's transaction on one snapshot of the whole database."""
    if _on_postgres(session):
        await session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
    else:
        await session.connection()


async def try_lock(session: AsyncSession, key: int) -> bool:
    """One reconciliation at a time across replicas (PostgreSQL advisory lock, held to the
    end of the transaction); SQLite serves one process, so always True there."""
    if not _on_postgres(session):
        return True
    result = await session.exec(  # type: ignore[call-overload]
        text("SELECT pg_try_advisory_xact_lock(:key)"), params={"key": key}
    )
    return bool(result.scalar_one())


# (log_index, salt, commitment, canonical JSON) of an integrated event: a plain tuple, since
# a million of them go by in a run.
StoredEvent = tuple[int, bytes, bytes, str]


async def integrated_page(session: AsyncSession, first: int, end: int) -> list[StoredEvent]:
    """The stored events with `first <= log_index < end`, in index order."""
    statement: Any = _INTEGRATED_PAGE
    rows = await session.exec(statement, params={"first": first, "end": end})
    return [tuple(row) for row in rows.all()]


async def _keyset(
    session: AsyncSession, statement: Any, start: int, page: int
) -> AsyncIterator[str]:
    """The events of a (key, event) statement from key `start` on, a page at a time."""
    while True:
        rows = (await session.exec(statement, params={"start": start, "page": page})).all()
        for _, event in rows:
            yield str(event)
        if len(rows) < page:
            return
        start = int(rows[-1][0]) + 1


async def pending_events(
    session: AsyncSession, *, signed_size: int, page: int
) -> AsyncIterator[str]:
    """The canonical JSON of the events not under the signed checkpoint, in log order."""
    async for event in _keyset(session, _UNSIGNED, signed_size, page):
        yield event
    async for event in _keyset(session, _UNINTEGRATED, 0, page):
        yield event


@dataclass(frozen=True, slots=True)
class ReleaseRow:
    """The compared columns of a `releases` row."""

    id: uuid.UUID
    container: str
    terminal_id: str
    shipping_line_id: str
    first_party_id: str
    valid_until: datetime
    status: str


async def _stream(session: AsyncSession, statement: Any, page: int) -> AsyncIterator[Any]:
    # A page at a time from the driver (one hop to the database thread or socket per page,
    # not per row), handed on a row at a time.
    result = await session.stream(statement.execution_options(yield_per=page))
    async for rows in result.partitions(page):
        for row in rows:
            yield row


async def release_rows(session: AsyncSession, *, page: int) -> AsyncIterator[ReleaseRow]:
    """Every row of `releases` (the compared columns)."""
    async for row in _stream(session, _RELEASE_ROWS, page):
        yield ReleaseRow(*row)


async def hold_rows(session: AsyncSession, *, page: int) -> AsyncIterator[tuple[uuid.UUID, str]]:
    """Every hold: (release id, kind)."""
    async for release_id, kind in _stream(session, _HOLD_ROWS, page):
        yield release_id, str(kind)


async def gate_out_rows(
    session: AsyncSession, *, page: int
) -> AsyncIterator[tuple[uuid.UUID, uuid.UUID]]:
    """Every gate-out: (release id, decision id)."""
    async for release_id, decision_id in _stream(session, _GATE_OUT_ROWS, page):
        yield release_id, decision_id
