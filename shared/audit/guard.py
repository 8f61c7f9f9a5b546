"""The sequencer's guard: never sign a tree that does not extend the last one it signed.

The database is the log's storage, and whoever administers it can roll it back (restore an
old backup) or rewrite it (change an event and rebuild the tiles). A sequencer that signs
"whatever the database holds" would then sign a fork with the log's own key. So before each
signature the guard proves, from the stored tree, that the tree about to be signed is
consistent with the last checkpoint this sequencer signed: that checkpoint is kept in
memory and, when `log_guard_state_file` is set, in a file outside the database (written
with fsync and rename, so it is one checkpoint or the other, never half of one). The
witnesses hold the same fact outside the operator's reach (shared.audit.witnessing).

A mismatch is an alarm, and the alarm sticks: the guard refuses every further signature in
this process, logs a critical line, and tells its listeners (the release service raises a
critical alert through one); /readyz and /v1/log/status show it. Only a person can clear
it, by repairing the database and restarting.
"""

import asyncio
import base64
import json
import os
from collections.abc import Awaitable, Callable
from pathlib import Path

import structlog
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.audit import repository as repo
from shared.audit.tilecache import TileCache
from shared.tlog import merkle
from shared.tlog.checkpoint import Checkpoint

logger = structlog.get_logger(__name__)

AlarmListener = Callable[[str], Awaitable[None]]


class LogRewritten(Exception):
    """The stored tree does not extend the last checkpoint this sequencer signed."""


class LogGuard:
    """The last checkpoint signed, where it is kept, and the alarm once raised."""

    def __init__(self, origin: str, state_path: Path | None = None) -> None:
        self.origin = origin
        self.state_path = state_path
        self.trusted: Checkpoint | None = None
        self.alarm: str | None = None
        self.refused = 0
        self.listeners: list[AlarmListener] = []
        self._told: set[asyncio.Task[None]] = set()
        self._load()

    def _load(self) -> None:
        if self.state_path is None or not self.state_path.exists():
            return
        data = json.loads(self.state_path.read_text(encoding="utf-8"))
        if data.get("origin") != self.origin:
            raise ValueError(f"{self.state_path} is the guard state of another log")
        self.trusted = Checkpoint(
            origin=self.origin,
            size=int(data["size"]),
            root_hash=base64.b64decode(data["root_hash"]),
        )

    def remember(self, checkpoint: Checkpoint) -> None:
        """Keep `checkpoint` as the last one signed (and in the state file, durably)."""
        if self.trusted is not None and checkpoint.size < self.trusted.size:
            return  # another replica signed further; both extend the same tree
        self.trusted = checkpoint
        if self.state_path is None:
            return
        state = {
            "origin": checkpoint.origin,
            "size": checkpoint.size,
            "root_hash": base64.b64encode(checkpoint.root_hash).decode(),
        }
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.state_path.with_name(f".{self.state_path.name}.{os.getpid()}.tmp")
        with temporary.open("w", encoding="utf-8") as file:
            json.dump(state, file)
            file.flush()
            os.fsync(file.fileno())
        temporary.replace(self.state_path)
        directory = os.open(self.state_path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)

    async def check(
        self, session: AsyncSession, size: int, root: bytes, cache: TileCache | None = None
    ) -> None:
        """Raise LogRewritten unless the stored tree of `size` extends the trusted checkpoint."""
        if self.alarm is not None:
            self.refused += 1
            raise LogRewritten(self.alarm)
        trusted = self.trusted
        if trusted is None:
            return
        try:
            reason = await self._mismatch(session, trusted, size, root, cache)
        except LookupError as exc:
            reason = f"the stored tree lacks nodes it had ({exc})"
        if reason is not None:
            await self.raise_alarm(reason)
            raise LogRewritten(reason)

    @staticmethod
    async def _mismatch(
        session: AsyncSession,
        trusted: Checkpoint,
        size: int,
        root: bytes,
        cache: TileCache | None,
    ) -> str | None:
        if size < trusted.size:
            return f"rollback: the stored tree has {size} entries, {trusted.size} were signed"
        if trusted.size == 0:
            return None
        # The stored tiles, not the state row, must give both roots: a rewritten tile shows
        # here even when the administrator left the state row alone.
        stored_old = merkle.fold(
            await repo.read_nodes(session, merkle.range_nodes(0, trusted.size), cache)
        )
        if stored_old != trusted.root_hash:
            return f"rewrite: the stored tree of {trusted.size} entries is not the one signed"
        stored_new = merkle.fold(await repo.read_nodes(session, merkle.range_nodes(0, size), cache))
        if stored_new != root:
            return f"rewrite: the stored tiles of {size} entries do not give the stored root"
        plan = merkle.consistency_proof_plan(trusted.size, size)
        proof = await merkle.build_proof(plan, lambda nodes: repo.read_nodes(session, nodes, cache))
        if not merkle.verify_consistency(trusted.size, size, trusted.root_hash, root, proof):
            return f"fork: the tree of {size} entries does not extend the one of {trusted.size}"
        return None

    async def raise_alarm(self, reason: str) -> None:
        """Stop signing for good in this process and tell everyone who listens."""
        if self.alarm is not None:
            return
        self.alarm = reason
        self.refused += 1
        logger.critical("audit_log_rewritten", origin=self.origin, reason=reason)
        # In tasks of their own: the alarm is raised inside the sequencer's transaction, and a
        # listener that writes (an alert) must not wait for the lock that transaction holds.
        for listener in self.listeners:
            task = asyncio.create_task(self._tell(listener, reason))
            self._told.add(task)
            task.add_done_callback(self._told.discard)

    async def _tell(self, listener: AlarmListener, reason: str) -> None:
        try:
            await listener(reason)
        except Exception:
            logger.exception("audit_log_alarm_listener_failed", origin=self.origin)

    async def settle(self, within: float | None = None) -> None:
        """Wait until every listener has been told (tests, shutdown); cancel after `within` s."""
        while self._told:
            _, pending = await asyncio.wait(set(self._told), timeout=within)
            if pending:
                for task in pending:
                    task.cancel()
                await asyncio.gather(*pending, return_exceptions=True)
                return

    def status(self) -> dict[str, object]:
        """What /readyz and /v1/log/status show."""
        return {
            "signing": self.alarm is None,
            "alarm": self.alarm,
            "signed_size": self.trusted.size if self.trusted else None,
            "checkpoints_refused": self.refused,
        }
