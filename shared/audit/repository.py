"""SQL of the audit log: tiles, entries, the sequencer's queue, state and checkpoints."""

import uuid
from collections import OrderedDict
from collections.abc import Iterable, Sequence

from sqlalchemy import bindparam, func, text, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.audit.models import AuditCheckpoint, AuditEvent, AuditTile, AuditTreeState
from shared.tlog import tiles
from shared.tlog.merkle import EMPTY_ROOT, Node

HASH = 32
TileKey = tuple[int, int]


class FullTileCache:
    """A bounded LRU of full tiles: a full tile never changes, so caching it is safe."""

    def __init__(self, max_tiles: int = 4096) -> None:
        self._tiles: OrderedDict[TileKey, bytes] = OrderedDict()
        self._max = max_tiles

    def get(self, key: TileKey) -> bytes | None:
        """A cached full tile, or None."""
        data = self._tiles.get(key)
        if data is not None:
            self._tiles.move_to_end(key)
        return data

    def put(self, key: TileKey, data: bytes) -> None:
        """Remember a full tile, forgetting the least recently used past the bound."""
        if len(data) != tiles.TILE_WIDTH * HASH:
            return
        self._tiles[key] = data
        self._tiles.move_to_end(key)
        while len(self._tiles) > self._max:
            self._tiles.popitem(last=False)

    def clear(self) -> None:
        """Forget everything (tests that tamper with tiles use this)."""
        self._tiles.clear()


def _on_postgres(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "postgresql"


async def read_tiles(
    session: AsyncSession, keys: Iterable[TileKey], cache: FullTileCache | None = None
) -> dict[TileKey, bytes]:
    """The stored hashes of the given tiles (missing tiles are absent from the answer)."""
    found: dict[TileKey, bytes] = {}
    wanted: list[TileKey] = []
    for key in set(keys):
        cached = cache.get(key) if cache else None
        if cached is None:
            wanted.append(key)
        else:
            found[key] = cached
    if wanted:
        rows = await session.exec(
            select(AuditTile.level, AuditTile.tile_index, AuditTile.hashes).where(
                tuple_(col(AuditTile.level), col(AuditTile.tile_index)).in_(wanted)
            )
        )
        for level, index, hashes in rows:
            data = bytes(hashes)
            found[(level, index)] = data
            if cache:
                cache.put((level, index), data)
    return found


async def read_nodes(
    session: AsyncSession, nodes: Sequence[Node], cache: FullTileCache | None = None
) -> list[bytes]:
    """Hashes of perfect subtrees, each computed from the one tile that holds its leaves."""
    spans = [tiles.tile_nodes_for(node) for node in nodes]
    stored = await read_tiles(session, ((level, index) for level, index, _, _ in spans), cache)
    hashes: list[bytes] = []
    for node, (level, index, first, count) in zip(nodes, spans, strict=True):
        data = stored.get((level, index))
        end = (first + count) * HASH
        if data is None or len(data) < end:
            raise LookupError(f"tile {level}/{index} does not hold node {node}")
        hashes.append(tiles.subtree_hash(tiles.split_hash_tile(data[first * HASH : end])))
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


async def latest_checkpoint(session: AsyncSession) -> AuditCheckpoint | None:
    """The checkpoint over the largest tree."""
    result = await session.exec(
        select(AuditCheckpoint)
        .order_by(col(AuditCheckpoint.size).desc(), col(AuditCheckpoint.id).desc())
        .limit(1)
    )
    return result.one_or_none()


async def add_checkpoint(session: AsyncSession, size: int, root: bytes, note: str) -> None:
    """Keep a signed checkpoint."""
    session.add(AuditCheckpoint(size=size, root_hash=root, note=note))


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
