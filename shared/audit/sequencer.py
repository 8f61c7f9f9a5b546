"""The sequencer: integrates committed events into the Merkle tree and signs checkpoints.

Each step runs in one transaction under a lock (a PostgreSQL advisory lock, or SQLite's
write lock), so exactly one sequencer integrates at a time across processes and replicas.

The queue is "events whose `log_index` is still NULL", not "events with an id above the last
one integrated": a transaction that took a low id but commits late is simply picked up by
the next step, and exactly once, since giving it an index and extending the tree happen in
the same transaction (and `log_index` is unique).

Before signing, the guard (shared.audit.guard) proves the stored tree extends the last
checkpoint this process signed, and refuses to sign otherwise; after the signature is
committed, the witness pool (shared.audit.witnessing) pushes it to the witnesses.
"""

import asyncio
import hashlib
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

import httpx
import structlog
from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.audit import repository as repo
from shared.audit.alarm import critical_alert
from shared.audit.guard import LogGuard, LogRewritten
from shared.audit.service import AuditLog
from shared.audit.tilecache import HASH, TileCache, TileKey
from shared.audit.witnessing import WitnessPool
from shared.db import SessionFactory, transaction
from shared.observability import metrics
from shared.settings import ServiceSettings
from shared.tlog import tiles
from shared.tlog.checkpoint import Checkpoint, parse_checkpoint, sign_checkpoint
from shared.tlog.merkle import CompactRange, leaf_hash
from shared.tlog.note import Signer, split_note

logger = structlog.get_logger(__name__)


def lock_key(origin: str) -> int:
    """The advisory-lock key of one log (two logs may share a database)."""
    return int.from_bytes(hashlib.sha256(origin.encode()).digest()[:8], "big", signed=True)


@dataclass(frozen=True)
class StepResult:
    """What one sequencer step did."""

    locked: bool
    integrated: int
    size: int
    signed: bool
    note: str | None = None  # the checkpoint signed in this step
    refused: bool = False  # the guard refused to sign


async def integrate(
    session: AsyncSession, *, batch_size: int, cache: TileCache | None = None
) -> tuple[int, int]:
    """Integrate up to `batch_size` pending events; returns (integrated, new size).

    The caller holds the sequencer lock and owns the transaction.
    """
    size, _ = await repo.load_state(session)
    pending = await repo.pending_events(session, batch_size)
    if not pending:
        return 0, size
    frontier_nodes = CompactRange.frontier_nodes(size)
    frontier = await repo.read_nodes(session, frontier_nodes, cache)
    tree = CompactRange(size, frontier)
    grown: dict[TileKey, list[bytes]] = {}
    first_position: dict[TileKey, int] = {}
    for _, entry in pending:
        for (level, index), node_hash in tree.append(leaf_hash(entry)):
            if level % tiles.TILE_HEIGHT:
                continue
            key = (level // tiles.TILE_HEIGHT, index // tiles.TILE_WIDTH)
            if key not in grown:
                grown[key] = []
                first_position[key] = index % tiles.TILE_WIDTH
            grown[key].append(node_hash)
    # Tiles that already hold hashes (the partial right edge) are extended, not replaced.
    continued = [key for key, position in first_position.items() if position > 0]
    stored = await repo.read_tiles(session, continued)
    changed: dict[TileKey, bytes] = {}
    for key, new_hashes in grown.items():
        head = stored.get(key, b"")
        if len(head) != first_position[key] * HASH:
            raise RuntimeError(
                f"tile {key} holds {len(head) // HASH} hashes, expected "
                f"{first_position[key]}: the stored tree is damaged"
            )
        changed[key] = head + b"".join(new_hashes)
    await repo.write_tiles(session, changed)
    await repo.assign_indexes(session, [row_id for row_id, _ in pending], size)
    await repo.save_state(session, tree.size, tree.root())
    return len(pending), tree.size


async def checkpoint(
    session: AsyncSession, *, signer: Signer, origin: str, guard: LogGuard | None = None
) -> str | None:
    """Sign a checkpoint of the current tree unless the latest one already covers it.

    With a guard, only a tree that extends the last checkpoint this process signed is
    signed (LogRewritten otherwise). Returns the note signed, if any.
    """
    size, root = await repo.load_state(session)
    latest = await repo.latest_checkpoint(session)
    if latest is not None and latest.size == size:
        return None
    if guard is not None:
        await guard.check(session, size, root)
    note = sign_checkpoint(Checkpoint(origin=origin, size=size, root_hash=root), signer)
    await repo.add_checkpoint(session, size, root, note)
    return note


async def step(
    sessions: SessionFactory,
    *,
    signer: Signer,
    origin: str,
    batch_size: int,
    sign: bool,
    cache: TileCache | None = None,
    guard: LogGuard | None = None,
) -> StepResult:
    """One transaction of the sequencer: integrate a batch and, if asked, sign a checkpoint."""
    note: str | None = None
    refused = False
    if guard is not None and guard.alarm is not None:
        # The stored tree is not to be trusted: events stay queued until a person repairs it.
        guard.refused += 1
        return StepResult(locked=True, integrated=0, size=-1, signed=False, refused=True)
    async with transaction(sessions) as session:
        if not await repo.try_sequencer_lock(session, lock_key(origin)):
            return StepResult(locked=False, integrated=0, size=-1, signed=False)
        try:
            integrated, size = await integrate(session, batch_size=batch_size, cache=cache)
        except (RuntimeError, LookupError, IntegrityError) as exc:
            if guard is not None:
                await guard.raise_alarm(f"the stored tree is damaged: {exc}")
            raise
        if sign:
            try:
                note = await checkpoint(session, signer=signer, origin=origin, guard=guard)
            except LogRewritten:
                refused = True  # integration still commits; nothing is signed
    if note is not None and guard is not None:
        # Only once committed: a checkpoint that was rolled back was never signed for anyone.
        guard.remember(parse_checkpoint(split_note(note)[0]))
    return StepResult(
        locked=True,
        integrated=integrated,
        size=size,
        signed=note is not None,
        note=note,
        refused=refused,
    )


async def drain(
    sessions: SessionFactory,
    *,
    signer: Signer,
    origin: str,
    batch_size: int = 2000,
    guard: LogGuard | None = None,
) -> int:
    """Integrate everything pending and sign a checkpoint over it; returns the tree size."""
    while True:
        result = await step(
            sessions, signer=signer, origin=origin, batch_size=batch_size, sign=True, guard=guard
        )
        if result.locked and result.integrated == 0:
            return result.size


class Sequencer:
    """The background task of a service: steps on a rhythm, signs at an interval."""

    def __init__(
        self,
        sessions: SessionFactory,
        *,
        signer: Signer,
        origin: str,
        batch_size: int,
        interval: float,
        checkpoint_interval: float,
        cache: TileCache | None = None,
        clock: Callable[[], float] = time.monotonic,
        guard: LogGuard | None = None,
        witnesses: WitnessPool | None = None,
    ) -> None:
        self._sessions = sessions
        self._signer = signer
        self._origin = origin
        self._batch_size = batch_size
        self._interval = interval
        self._checkpoint_interval = checkpoint_interval
        self._cache = cache
        self._clock = clock
        self._wake = asyncio.Event()
        self._last_signed: float | None = None
        self.guard = guard or LogGuard(origin)
        self.witnesses = witnesses

    def wake(self) -> None:
        """Ask for a step soon (after an append in this process)."""
        self._wake.set()

    async def run(self) -> None:
        """Step until cancelled; errors are logged and retried, never fatal."""
        pusher = asyncio.create_task(self.witnesses.run()) if self.witnesses else None
        try:
            await self._run()
        finally:
            if pusher is not None:
                pusher.cancel()
                with suppress(asyncio.CancelledError):
                    await pusher

    async def _run(self) -> None:
        while True:
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("sequencer_step_failed", origin=self._origin)
            # Not asyncio.wait_for: on Python 3.11 it can swallow a cancellation that lands
            # as the wait completes, and the task then never stops.
            with suppress(TimeoutError):
                async with asyncio.timeout(self._interval):
                    await self._wake.wait()
            self._wake.clear()

    async def run_once(self) -> int:
        """Integrate everything pending, then sign if the checkpoint interval has passed."""
        integrated = 0
        while True:
            now = self._clock()
            due = self._last_signed is None or now - self._last_signed >= self._checkpoint_interval
            result = await self._step(sign=False)
            integrated += result.integrated
            if result.integrated < self._batch_size:
                break
        if due:
            result = await self._step(sign=True)
            integrated += result.integrated
            if result.locked:
                self._last_signed = now
        return integrated

    async def _step(self, *, sign: bool) -> StepResult:
        result = await step(
            self._sessions,
            signer=self._signer,
            origin=self._origin,
            batch_size=self._batch_size,
            sign=sign,
            cache=self._cache,
            guard=self.guard,
        )
        if result.note is not None and self.witnesses is not None:
            self.witnesses.notify(result.note)
        metrics.sequencer_stepped(
            locked=result.locked,
            refused=result.refused,
            integrated=result.integrated,
            size=result.size,
            signed=result.signed,
            batch_size=self._batch_size,
        )
        return result


def service_sequencer(
    sessions: SessionFactory,
    log: AuditLog,
    settings: ServiceSettings,
    *,
    witness_transport: httpx.AsyncBaseTransport | None = None,
) -> Sequencer:
    """A service's sequencer, with its guard and witnesses as its settings say."""
    state = settings.log_guard_state_file
    guard = LogGuard(log.origin, Path(state) if state else None)
    guard.listeners.append(critical_alert(sessions, log.origin))
    witnesses = settings.witnesses()
    pool = (
        WitnessPool(
            sessions,
            witnesses,
            guard=guard,
            timeout=settings.audit_witness_timeout_seconds,
            transport=witness_transport,
        )
        if witnesses
        else None
    )
    return Sequencer(
        sessions,
        signer=log.signer,
        origin=log.origin,
        batch_size=settings.log_sequencer_batch_size,
        interval=settings.log_sequencer_interval_seconds,
        checkpoint_interval=settings.log_checkpoint_interval_seconds,
        cache=log.cache,
        guard=guard,
        witnesses=pool,
    )
