"""`ketenpas log verify`: check a service's audit log from the outside, and optionally its rows.

From the service URL alone it fetches the signed checkpoint, every entry bundle and every
hash tile, checks the checkpoint's signature, recomputes every tile and the root, and checks
consistency with the checkpoint it saved on its last run (a smaller tree is a rollback, a
different root at the old size is a fork). With database access it also re-hashes every
stored event against its entry. Memory stays O(log n): it streams one bundle at a time.
"""

import base64
import json
from collections.abc import AsyncGenerator, AsyncIterator, Collection, Sequence
from contextlib import AsyncExitStack, aclosing
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlmodel import col, select

from shared.audit.events import commitment
from shared.audit.models import AuditEvent
from shared.db import create_engine, read_only, session_factory
from shared.tlog import tiles
from shared.tlog.checkpoint import Checkpoint, open_checkpoint
from shared.tlog.cosignature import CosignatureVerifier, require_quorum
from shared.tlog.merkle import CompactRange, leaf_hash
from shared.tlog.note import NoteError, parse_verifier_key


class VerificationFailed(Exception):
    """The log does not hold together; `index` is the first bad entry when one is known."""

    def __init__(self, reason: str, index: int | None = None) -> None:
        super().__init__(reason if index is None else f"index {index}: {reason}")
        self.reason = reason
        self.index = index


@dataclass
class VerifyReport:
    """What a successful verification checked."""

    origin: str
    size: int
    root_hash: bytes
    previous_size: int | None = None
    events_checked: int = 0
    notes: list[str] = field(default_factory=list)
    roots: dict[int, bytes] = field(default_factory=dict)  # size -> root, as asked for
    cosigned_by: dict[str, int] = field(default_factory=dict)  # witness -> cosignature time


@dataclass
class _UpperTiles:
    """The stored tiles above level 0, fetched one at a time as the stream reaches them."""

    fetch: "_Fetcher"
    size: int
    current: dict[int, tuple[int, list[bytes]]] = field(default_factory=dict)

    async def check(self, level: int, index: int, node_hash: bytes) -> None:
        tile_level, tile_index, position = tiles.node_tile((level, index))
        held = self.current.get(tile_level)
        if held is None or held[0] != tile_index:
            width = tiles.tile_width(tile_level, tile_index, self.size)
            data = await self.fetch.get(tiles.tile_path(tile_level, tile_index, width))
            held = (tile_index, tiles.split_hash_tile(data))
            self.current[tile_level] = held
        hashes = held[1]
        first_leaf = index << level
        if position >= len(hashes) or hashes[position] != node_hash:
            raise VerificationFailed(
                f"hash tile {tile_level}/{tile_index} differs at position {position}", first_leaf
            )


class _Fetcher:
    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def get(self, path: str, *, first_index: int | None = None) -> bytes:
        response = await self.client.get("/log/" + path)
        if response.status_code != 200:
            raise VerificationFailed(
                f"GET /log/{path} answered {response.status_code}", first_index
            )
        return response.content


async def _stored_events(
    database_url: str, schema: str | None, size: int
) -> AsyncGenerator[tuple[int, bytes, bytes, str]]:
    """(log_index, salt, commitment, event) of integrated events in index order."""
    engine = create_engine(database_url, schema=schema)
    try:
        async with session_factory(read_only(engine))() as session:
            statement = (
                select(
                    AuditEvent.log_index, AuditEvent.salt, AuditEvent.commitment, AuditEvent.event
                )
                .where(col(AuditEvent.log_index).is_not(None), col(AuditEvent.log_index) < size)
                .order_by(col(AuditEvent.log_index))
                .execution_options(yield_per=1000)
            )
            result = await session.stream(statement)
            async for log_index, salt, stored, event in result:
                yield int(log_index), bytes(salt), bytes(stored), str(event)
    finally:
        await engine.dispose()


def _load_state(path: Path | None) -> Checkpoint | None:
    if path is None or not path.exists():
        return None
    data = json.loads(path.read_text())
    return Checkpoint(
        origin=data["origin"], size=int(data["size"]), root_hash=base64.b64decode(data["root_hash"])
    )


def _save_state(path: Path, checkpoint: Checkpoint, note: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {
        "origin": checkpoint.origin,
        "size": checkpoint.size,
        "root_hash": base64.b64encode(checkpoint.root_hash).decode(),
        "checkpoint": note,
    }
    temporary = path.with_suffix(path.suffix + ".tmp")
    temporary.write_text(json.dumps(state, indent=2) + "\n")
    temporary.replace(path)


async def verify_log(
    base_url: str,
    verifier_key: str,
    *,
    origin: str | None = None,
    state_path: Path | None = None,
    database_url: str | None = None,
    database_schema: str | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    roots_at: Collection[int] = (),
    witnesses: Sequence[CosignatureVerifier] = (),
    min_witnesses: int = 0,
) -> VerifyReport:
    """Verify a log end to end; raise VerificationFailed naming the first bad index.

    `roots_at`: tree sizes whose recomputed roots the report keeps (`VerifyReport.roots`),
    so that a caller can check checkpoints quoted elsewhere against the verified log.
    `witnesses`, `min_witnesses`: the checkpoint must carry valid cosignatures of at least
    that many of these witnesses (C2SP tlog-cosignature), so that a log showing this
    verifier a view the witnesses never saw (a fork, a rollback) is refused.
    """
    verifier = parse_verifier_key(verifier_key)
    async with AsyncExitStack() as stack:
        client = await stack.enter_async_context(
            httpx.AsyncClient(base_url=base_url, transport=transport, timeout=30)
        )
        fetch = _Fetcher(client)
        note = (await fetch.get("checkpoint")).decode()
        try:
            checkpoint = open_checkpoint(note, verifier, origin or verifier.name)
        except ValueError as exc:
            raise VerificationFailed(f"checkpoint refused: {exc}") from exc
        cosigned_by = _cosignatures(note, witnesses, min_witnesses)
        previous = _load_state(state_path)
        if previous is not None:
            if previous.origin != checkpoint.origin:
                raise VerificationFailed(
                    f"state file is for {previous.origin!r}, not {checkpoint.origin!r}"
                )
            if checkpoint.size < previous.size:
                raise VerificationFailed(
                    f"rollback: the log now has {checkpoint.size} entries, "
                    f"it had {previous.size} when last verified",
                    checkpoint.size,
                )
        report = VerifyReport(
            origin=checkpoint.origin,
            size=checkpoint.size,
            root_hash=checkpoint.root_hash,
            previous_size=previous.size if previous else None,
            cosigned_by=cosigned_by,
        )
        events = (
            await stack.enter_async_context(
                aclosing(_stored_events(database_url, database_schema, checkpoint.size))
            )
            if database_url
            else None
        )
        tree = CompactRange.empty()
        wanted = frozenset(roots_at)
        if 0 in wanted:
            report.roots[0] = tree.root()
        upper = _UpperTiles(fetch, checkpoint.size)
        if previous is not None and previous.size == 0:
            _check_old_root(tree, previous)
        for bundle in range(-(-checkpoint.size // tiles.TILE_WIDTH)):
            start = bundle * tiles.TILE_WIDTH
            width = tiles.tile_width(0, bundle, checkpoint.size)
            entries = tiles.decode_entry_bundle(
                await fetch.get(tiles.entries_path(bundle, width), first_index=start)
            )
            leaves = tiles.split_hash_tile(
                await fetch.get(tiles.tile_path(0, bundle, width), first_index=start)
            )
            if events is not None:
                report.events_checked += await _check_events(events, entries, start, width)
            for position in range(width):
                index = start + position
                if position >= len(entries):
                    raise VerificationFailed("entry missing from its bundle", index)
                leaf = leaf_hash(entries[position])
                if position >= len(leaves) or leaves[position] != leaf:
                    raise VerificationFailed("hash tile does not match the entry", index)
                for (level, node_index), node_hash in tree.append(leaf):
                    if level and level % tiles.TILE_HEIGHT == 0:
                        await upper.check(level, node_index, node_hash)
                if previous is not None and tree.size == previous.size:
                    _check_old_root(tree, previous)
                if tree.size in wanted:
                    report.roots[tree.size] = tree.root()
            if len(entries) > width:
                raise VerificationFailed("entry bundle holds too many entries", start + width)
        if events is not None:
            extra = await anext(events, None)
            if extra is not None:
                raise VerificationFailed(
                    "a stored event claims an index beyond the checkpoint", extra[0]
                )
        if tree.root() != checkpoint.root_hash:
            raise VerificationFailed("recomputed root does not match the signed checkpoint")
    if state_path is not None:
        _save_state(state_path, checkpoint, note)
    return report


def _cosignatures(
    note: str, witnesses: Sequence[CosignatureVerifier], minimum: int
) -> dict[str, int]:
    if not witnesses and not minimum:
        return {}
    try:
        return require_quorum(note, witnesses, minimum)
    except NoteError as exc:
        raise VerificationFailed(f"witnesses: {exc}") from exc


def _check_old_root(tree: CompactRange, previous: Checkpoint) -> None:
    if tree.root() != previous.root_hash:
        raise VerificationFailed(
            f"fork: the tree of {previous.size} entries differs from the one verified last time"
        )


async def _check_events(
    events: AsyncIterator[tuple[int, bytes, bytes, str]],
    entries: list[bytes],
    start: int,
    width: int,
) -> int:
    """Re-hash the stored events of one bundle and compare them with the served entries."""
    for position in range(width):
        index = start + position
        row = await anext(events, None)
        if row is None or row[0] != index:
            raise VerificationFailed("no stored event has this index (row deleted?)", index)
        _, salt, stored, event = row
        if commitment(salt, event.encode()) != stored:
            raise VerificationFailed("stored event does not match its commitment (edited?)", index)
        if position < len(entries) and entries[position] != stored:
            raise VerificationFailed("served entry differs from the stored commitment", index)
    return width
