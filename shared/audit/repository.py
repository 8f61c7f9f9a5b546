"""SQL of the audit log: tiles, entries, the sequencer's queue, state and checkpoints.

Two ways in. Writers and readers inside a business transaction pass an ORM `AsyncSession`.
The public read API passes a `LogReader`: one pooled connection per request, each read one
statement sent straight to the driver (asyncpg or aiosqlite), in autocommit, with no ORM
session, no BEGIN and no COMMIT. That path is hand-written SQL on purpose: a cold inclusion
proof through the ORM session cost 2.3 to 3.2 ms, most of it session set-up, statement
building, the pool's pre-ping (BEGIN, a ping and ROLLBACK on PostgreSQL) and the COMMIT,
not the one indexed read it needs (docs/audit-log.md, "Serving the log"). A read outside a
transaction is still consistent here: the log only grows, and the sequencer writes a tile
and the tree size that covers it in one transaction, so a tile read after the size was
read holds at least what that size needs.
"""

import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import and_, bindparam, func, or_, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import PoolProxiedConnection
from sqlalchemy.util import greenlet_spawn
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.audit.models import AuditCheckpoint, AuditEvent, AuditTile, AuditTreeState
from shared.audit.tilecache import HASH, Tile, TileCache, TileKey
from shared.tlog import tiles
from shared.tlog.cosignature import merge_signature_lines
from shared.tlog.merkle import EMPTY_ROOT, Node

# Connections of the log's own pool on PostgreSQL: a read holds one for a single statement
# (about 0.2 ms), so a few serve thousands of reads a second in one process.
LOG_READ_POOL_SIZE = 4
LOG_READ_POOL_OVERFLOW = 4

# One statement whatever the number of tiles: asyncpg prepares it once per connection.
_PG_TILES = (
    "SELECT level, tile_index, hashes FROM audit_tiles WHERE (level, tile_index) IN "
    "(SELECT * FROM unnest($1::smallint[], $2::bigint[]))"
)
_SQLITE_TILE = "(level = ? AND tile_index = ?)"
_TREE_SIZE = "SELECT size FROM audit_tree WHERE id = 1"
_ENTRIES = {
    "postgresql": "SELECT commitment FROM audit_events WHERE log_index >= $1 AND log_index < $2 "
    "ORDER BY log_index",
    "sqlite": "SELECT commitment FROM audit_events WHERE log_index >= ? AND log_index < ? "
    "ORDER BY log_index",
}
_LATEST_NOTE = "SELECT note FROM audit_checkpoints ORDER BY size DESC, id DESC LIMIT 1"


class LogReader:
    """Reads of the public log API on one pooled connection, each one driver call."""

    def __init__(self, reads: "LogReads", connection: PoolProxiedConnection) -> None:
        self._reads = reads
        self._connection = connection
        self._driver: Any = connection.driver_connection
        self._postgres = reads.dialect == "postgresql"

    async def _run(self, sql: str, params: Sequence[Any]) -> Sequence[Sequence[Any]]:
        if self._postgres:
            rows: Sequence[Sequence[Any]] = await self._driver.fetch(sql, *params)
        else:
            rows = await self._driver.execute_fetchall(sql, params)
        return rows

    async def _fetch(self, sql: str, *params: Any) -> Sequence[Sequence[Any]]:
        try:
            return await self._run(sql, params)
        except Exception:
            # What SQLAlchemy's asyncpg dialect calls a disconnect: the connection is closed.
            if not self._postgres or not self._driver.is_closed():
                raise
        # The server closed it (a restart, a fail-over, an idle timeout): the pool's other
        # connections to it are likely gone too, so the pool starts afresh (those checked
        # out are closed when they come back), and the read runs once more, on a new one.
        await greenlet_spawn(self._connection.invalidate)
        await self.release()
        await self._reads.engine.dispose()
        self._connection = await self._reads.engine.raw_connection()
        self._driver = self._connection.driver_connection
        return await self._run(sql, params)

    async def release(self) -> None:
        """Give the connection back to the pool (nothing to roll back: nothing began).

        Inside SQLAlchemy's greenlet: the pool closes a connection it takes back past its
        size, or after a dispose, and an async driver closes with awaits.
        """
        await greenlet_spawn(self._connection.close)

    async def read_tiles(self, keys: Iterable[TileKey]) -> dict[TileKey, bytes]:
        """The stored hashes of the given tiles (missing tiles are absent from the answer)."""
        wanted = sorted(set(keys))
        if not wanted:
            return {}
        if self._postgres:
            rows = await self._fetch(
                _PG_TILES, [level for level, _ in wanted], [index for _, index in wanted]
            )
        else:
            # SQLite answers an OR of primary-key equalities with one index search each; the
            # text is built of constants only (one `?` pair per tile).
            where = " OR ".join([_SQLITE_TILE] * len(wanted))
            sql = f"SELECT level, tile_index, hashes FROM audit_tiles WHERE {where}"  # noqa: S608
            rows = await self._fetch(sql, *(value for key in wanted for value in key))
        return {(int(level), int(index)): bytes(hashes) for level, index, hashes in rows}

    async def tree_size(self) -> int:
        """How many events the tree holds now."""
        rows = await self._fetch(_TREE_SIZE)
        return int(rows[0][0]) if rows else 0

    async def entries(self, start: int, count: int) -> list[bytes]:
        """The log entries (commitments) at indexes [start, start + count)."""
        sql = _ENTRIES["postgresql" if self._postgres else "sqlite"]
        return [bytes(row[0]) for row in await self._fetch(sql, start, start + count)]

    async def latest_checkpoint_note(self) -> str | None:
        """The signed note of the checkpoint over the largest tree, if any."""
        rows = await self._fetch(_LATEST_NOTE)
        return str(rows[0][0]) if rows else None


class LogReads:
    """Where the public log API gets its connections: a small pool of its own.

    Its own pool because the service's pool pings each connection it hands out on
    PostgreSQL, inside a transaction (BEGIN, a ping, ROLLBACK: three round trips, 0.5 ms
    here, more than the read itself), and rolls back each connection it takes back (on
    SQLite a hop to the driver's thread). This pool does neither: nothing on it ever begins
    a transaction, and a read finds a connection the server closed when it fails on it;
    `LogReader` then reads again on a new one, which a read that changes nothing may do.
    An in-memory SQLite database is the service's own engine's (another engine would open
    another, empty, database).
    """

    def __init__(self, engine: AsyncEngine, schema: str | None = None) -> None:
        self.dialect = engine.dialect.name
        url = engine.url
        self._own = self.dialect == "postgresql" or url.database not in (None, "", ":memory:")
        if not self._own:
            self.engine = engine
            return
        connect_args: dict[str, Any] = {}
        if self.dialect == "postgresql" and schema:
            connect_args["server_settings"] = {"search_path": schema}
        elif self.dialect == "sqlite":
            connect_args["timeout"] = 30  # as the service's engine waits on a busy file
        self.engine = create_async_engine(
            url,
            isolation_level="AUTOCOMMIT",
            pool_size=LOG_READ_POOL_SIZE,
            max_overflow=LOG_READ_POOL_OVERFLOW,
            pool_pre_ping=False,
            pool_reset_on_return=None,
            connect_args=connect_args,
        )

    @asynccontextmanager
    async def reader(self) -> AsyncIterator[LogReader]:
        """A reader on one pooled connection, back to the pool at the end of the block.

        The pool's own connection, not a Core `AsyncConnection` around it: no statement goes
        through SQLAlchemy, and the wrapper cost 67 us a request in taking and returning.
        """
        if not self._own:  # the service's in-memory SQLite: its pool rolls back on return
            async with self.engine.connect() as connection:
                yield LogReader(self, await connection.get_raw_connection())
            return
        reader = LogReader(self, await self.engine.raw_connection())
        try:
            yield reader
        finally:
            await reader.release()

    async def close(self) -> None:
        """Close the log's own pool (the service's engine, if used, is the service's)."""
        if self._own:
            await self.engine.dispose()


TileSource = AsyncSession | LogReader
"""What the log's reads take: a session inside a transaction, or the read API's reader."""


def _on_postgres(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "postgresql"


async def read_tiles(source: TileSource, keys: Iterable[TileKey]) -> dict[TileKey, bytes]:
    """The stored hashes of the given tiles (missing tiles are absent from the answer)."""
    if isinstance(source, LogReader):
        return await source.read_tiles(keys)
    session = source
    by_level: dict[int, set[int]] = defaultdict(set)
    for level, index in keys:
        by_level[level].add(index)
    if not by_level:
        return {}
    # One `level = ? AND tile_index IN (...)` per level: both databases use the primary key
    # for that, where SQLite scans the table for a `(level, tile_index) IN (...)` of tuples.
    condition = or_(
        *(
            and_(col(AuditTile.level) == level, col(AuditTile.tile_index).in_(sorted(indexes)))
            for level, indexes in by_level.items()
        )
    )
    rows = await session.exec(
        select(AuditTile.level, AuditTile.tile_index, AuditTile.hashes).where(condition)
    )
    return {(level, index): bytes(hashes) for level, index, hashes in rows}


async def read_cached_tiles(
    session: TileSource, needed: dict[TileKey, int], cache: TileCache | None
) -> dict[TileKey, Tile]:
    """Tiles holding at least the needed widths: from the cache, else from storage."""
    found: dict[TileKey, Tile] = {}
    missing: list[TileKey] = []
    for key, width in needed.items():
        cached = cache.get(key, width) if cache is not None else None
        if cached is None:
            missing.append(key)
        else:
            found[key] = cached
    if missing:
        for key, data in (await read_tiles(session, missing)).items():
            found[key] = cache.put(key, data) if cache is not None else Tile(data)
    return found


async def read_nodes(
    session: TileSource, nodes: Sequence[Node], cache: TileCache | None = None
) -> list[bytes]:
    """Hashes of perfect subtrees, each taken from the one tile that holds its leaves."""
    spans = [tiles.tile_nodes_for(node) for node in nodes]
    needed: dict[TileKey, int] = {}
    for level, index, first, count in spans:
        needed[(level, index)] = max(needed.get((level, index), 0), first + count)
    found = await read_cached_tiles(session, needed, cache)
    hashes: list[bytes] = []
    for node, (level, index, first, count) in zip(nodes, spans, strict=True):
        tile = found.get((level, index))
        height = count.bit_length() - 1
        node_hash = tile.node(height, first >> height) if tile is not None else None
        if node_hash is None:
            raise LookupError(f"tile {level}/{index} does not hold node {node}")
        hashes.append(node_hash)
    return hashes


async def write_tiles(session: AsyncSession, changed: dict[TileKey, bytes]) -> None:
    """Insert or replace tiles (a partial tile grows in place)."""
    if not changed:
        return
    insert = postgresql.insert if _on_postgres(session) else sqlite.insert
    rows = [
        {"level": level, "tile_index": index, "width": len(data) // HASH, "hashes": data}
        for (level, index), data in changed.items()
    ]
    statement = insert(AuditTile).values(rows)
    statement = statement.on_conflict_do_update(
        index_elements=["level", "tile_index"],
        set_={"width": statement.excluded.width, "hashes": statement.excluded.hashes},
    )
    await session.exec(statement)


async def load_state(session: AsyncSession) -> tuple[int, bytes]:
    """How many events are integrated, and the root over them."""
    state = await session.get(AuditTreeState, 1)
    if state is None:
        return 0, EMPTY_ROOT
    return state.size, bytes(state.root_hash)


async def save_state(session: AsyncSession, size: int, root: bytes) -> None:
    """Record how far the tree now reaches."""
    state = await session.get(AuditTreeState, 1)
    if state is None:
        session.add(AuditTreeState(id=1, size=size, root_hash=root))
    else:
        state.size = size
        state.root_hash = root
        session.add(state)


async def pending_events(session: AsyncSession, limit: int) -> list[tuple[int, bytes]]:
    """Committed events not yet in the tree, oldest row first."""
    rows = await session.exec(
        select(AuditEvent.id, AuditEvent.commitment)
        .where(col(AuditEvent.log_index).is_(None))
        .order_by(col(AuditEvent.id))
        .limit(limit)
    )
    return [(int(row_id or 0), bytes(commit)) for row_id, commit in rows]


async def assign_indexes(session: AsyncSession, ids: Sequence[int], first_index: int) -> None:
    """Give the events their places in the tree, in the order given."""
    table = AuditEvent.__table__  # type: ignore[attr-defined]
    statement = (
        update(table)
        .where(table.c.id == bindparam("row_id"))
        .values(log_index=bindparam("new_index"))
    )
    params = [
        {"row_id": row_id, "new_index": first_index + offset} for offset, row_id in enumerate(ids)
    ]
    connection = await session.connection()
    await connection.execute(statement, params)


async def entries(session: AsyncSession, start: int, count: int) -> list[bytes]:
    """The log entries (commitments) at indexes [start, start + count), as stored."""
    rows = await session.exec(
        select(AuditEvent.commitment)
        .where(col(AuditEvent.log_index) >= start, col(AuditEvent.log_index) < start + count)
        .order_by(col(AuditEvent.log_index))
    )
    return [bytes(commit) for commit in rows]


async def event_by_id(session: AsyncSession, event_id: uuid.UUID) -> AuditEvent | None:
    """One stored event by its id."""
    result = await session.exec(select(AuditEvent).where(col(AuditEvent.event_id) == event_id))
    return result.one_or_none()


async def events_by_ids(
    session: AsyncSession, event_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, AuditEvent]:
    """Events by their ids (those that exist)."""
    if not event_ids:
        return {}
    result = await session.exec(select(AuditEvent).where(col(AuditEvent.event_id).in_(event_ids)))
    return {event.event_id: event for event in result.all()}


# Built once: every inspection draw reads it (a statement built per call costs SQLAlchemy a
# fresh cache key each time).
_LATEST_CHECKPOINT = (
    select(AuditCheckpoint)
    .order_by(col(AuditCheckpoint.size).desc(), col(AuditCheckpoint.id).desc())
    .limit(1)
)


async def latest_checkpoint(session: AsyncSession) -> AuditCheckpoint | None:
    """The checkpoint over the largest tree."""
    return (await session.exec(_LATEST_CHECKPOINT)).one_or_none()


async def add_checkpoint(session: AsyncSession, size: int, root: bytes, note: str) -> None:
    """Keep a signed checkpoint."""
    session.add(AuditCheckpoint(size=size, root_hash=root, note=note))


async def add_cosignatures(session: AsyncSession, size: int, root: bytes, lines: list[str]) -> bool:
    """Append witnesses' cosignature lines to the stored checkpoint of that tree; whether found."""
    rows = await session.exec(
        select(AuditCheckpoint).where(
            col(AuditCheckpoint.size) == size, col(AuditCheckpoint.root_hash) == root
        )
    )
    found = False
    for stored in rows.all():
        stored.note = merge_signature_lines(stored.note, lines)
        session.add(stored)
        found = True
    return found


async def try_sequencer_lock(session: AsyncSession, key: int) -> bool:
    """Take the sequencer's lock for this transaction; False if another holds it."""
    if not _on_postgres(session):
        # SQLite transactions start with BEGIN IMMEDIATE: the transaction already is the lock.
        return True
    connection = await session.connection()
    result = await connection.execute(text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": key})
    return bool(result.scalar_one())


async def count_events(session: AsyncSession) -> int:
    """How many events are stored, integrated or not."""
    result = await session.exec(select(func.count()).select_from(AuditEvent))
    return int(result.one())
