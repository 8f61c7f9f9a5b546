"""SQL of the audit log: tiles, entries, the sequencer's queue, state and checkpoints."""

import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence

from sqlalchemy import and_, bindparam, func, or_, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.audit.models import AuditCheckpoint, AuditEvent, AuditTile, AuditTreeState
from shared.audit.tilecache import HASH, Tile, TileCache, TileKey
from shared.tlog import tiles
from shared.tlog.cosignature import merge_signature_lines
from shared.tlog.merkle import EMPTY_ROOT, Node


def _on_postgres(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "postgresql"


async def read_tiles(session: AsyncSession, keys: Iterable[TileKey]) -> dict[TileKey, bytes]:
    """The stored hashes of the given tiles (missing tiles are absent from the answer)."""
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
    session: AsyncSession, needed: dict[TileKey, int], cache: TileCache | None
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
    session: AsyncSession, nodes: Sequence[Node], cache: TileCache | None = None
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
