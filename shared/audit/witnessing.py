"""Pushing each new checkpoint to the witnesses and keeping their cosignatures.

After the sequencer signs, it hands the note here; a background task submits it to every
configured witness at once (C2SP tlog-witness add-checkpoint, with a consistency proof from
the size the witness holds, computed from the stored tree), each bounded by a timeout, and
appends the cosignature lines that verify under that witness's key to the stored
checkpoint, so `GET /log/checkpoint` serves the cosigned note. Nothing waits for it: a
witness that is down costs a logged warning, never a gate decision or a signature. When
checkpoints come faster than the witnesses answer, only the newest is pushed.

The witnesses are also the guard's outside memory: a witness that holds a larger tree than
the database, refuses our proof (422) or holds another root at our size is evidence that
the stored log was rolled back or rewritten, and raises the guard's alarm.
"""

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field

import httpx
import structlog

from shared.audit import repository as repo
from shared.audit.guard import LogGuard
from shared.db import SessionFactory, transaction
from shared.tlog import merkle
from shared.tlog.checkpoint import Checkpoint, parse_checkpoint
from shared.tlog.cosignature import (
    CosignatureVerifier,
    merge_signature_lines,
    verify_cosignatures,
)
from shared.tlog.note import NoteError, split_note
from shared.tlog.witness_protocol import ProtocolError, submit

logger = structlog.get_logger(__name__)


@dataclass
class WitnessView:
    """What this process knows of one witness."""

    url: str
    cosigner: CosignatureVerifier
    held_size: int = 0  # the size we believe it holds (0: ask it)
    cosigned_size: int | None = None
    error: str | None = None


@dataclass
class WitnessPool:
    """The configured witnesses and the task that pushes checkpoints to them."""

    sessions: SessionFactory
    witnesses: Sequence[tuple[str, CosignatureVerifier]]
    guard: LogGuard | None = None
    timeout: float = 5.0
    transport: httpx.AsyncBaseTransport | None = None
    views: list[WitnessView] = field(init=False)
    pushed: int = 0
    _latest: str | None = field(default=None, init=False)
    _wake: asyncio.Event = field(default_factory=asyncio.Event, init=False)
    # Set after each push (tests and benchmarks wait on it instead of on the clock).
    pushed_signal: asyncio.Event = field(default_factory=asyncio.Event, init=False)

    def __post_init__(self) -> None:
        self.views = [WitnessView(url, cosigner) for url, cosigner in self.witnesses]

    def notify(self, note: str) -> None:
        """A new checkpoint was signed: push it soon (replacing one not yet pushed)."""
        self._latest = note
        self._wake.set()

    async def run(self) -> None:
        """Push the newest checkpoint whenever one is signed, until cancelled."""
        async with httpx.AsyncClient(timeout=self.timeout, transport=self.transport) as client:
            while True:
                await self._wake.wait()
                self._wake.clear()
                note, self._latest = self._latest, None
                if note is None:
                    continue
                try:
                    await self.push(note, client)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    logger.exception("witness_push_failed")

    async def push(self, note: str, client: httpx.AsyncClient | None = None) -> list[str]:
        """Submit `note` to every witness; store and return the verified cosignature lines."""
        if client is None:
            async with httpx.AsyncClient(
                timeout=self.timeout, transport=self.transport
            ) as own_client:
                return await self.push(note, own_client)
        checkpoint = parse_checkpoint(split_note(note)[0])
        answers = await asyncio.gather(
            *(self._bounded(client, view, checkpoint, note) for view in self.views)
        )
        lines = [line for answer in answers for line in answer]
        if lines:
            async with transaction(self.sessions) as session:
                await repo.add_cosignatures(session, checkpoint.size, checkpoint.root_hash, lines)
        self.pushed += 1
        self.pushed_signal.set()
        return lines

    async def _bounded(
        self, client: httpx.AsyncClient, view: WitnessView, checkpoint: Checkpoint, note: str
    ) -> list[str]:
        try:
            # Two round trips at most (learning the size it holds, then the real submission).
            async with asyncio.timeout(self.timeout * 2):
                lines = await self._push_one(client, view, checkpoint, note)
        except (TimeoutError, httpx.HTTPError, ProtocolError) as exc:
            view.error = f"{type(exc).__name__}: {exc}"
            logger.warning("witness_unreachable", witness=view.url, error=view.error)
            return []
        if lines:
            view.error = None
        return lines

    async def _push_one(
        self, client: httpx.AsyncClient, view: WitnessView, checkpoint: Checkpoint, note: str
    ) -> list[str]:
        old = view.held_size
        for _ in range(3):
            if old > checkpoint.size:
                await self._witness_is_ahead(view, old)
                return []
            proof = await self._proof(old, checkpoint.size) if 0 < old < checkpoint.size else []
            answer = await submit(client, view.url, old, proof, note)
            if answer.status == 200:
                return self._accept(view, checkpoint, note, answer.lines)
            if answer.status == 409 and answer.held_size is not None:
                if answer.held_size == old:
                    await self._alarm(
                        view, f"the witness holds another tree of {old} entries (fork)"
                    )
                    return []
                old = view.held_size = answer.held_size
                continue
            if answer.status == 422:
                await self._alarm(
                    view,
                    f"the witness refused the proof from the {old} entries it holds: the stored"
                    " tree does not extend what the witness saw",
                )
                return []
            view.error = f"HTTP {answer.status}: {answer.detail[:200]}"
            logger.warning("witness_refused", witness=view.url, error=view.error)
            return []
        return []

    def _accept(
        self, view: WitnessView, checkpoint: Checkpoint, note: str, lines: Sequence[str]
    ) -> list[str]:
        mine = [line for line in lines if line.startswith(f"\u2014 {view.cosigner.name} ")]
        try:
            found = verify_cosignatures(merge_signature_lines(note, mine), [view.cosigner])
        except NoteError as exc:
            view.error = f"bad cosignature: {exc}"
            logger.warning("witness_bad_cosignature", witness=view.url, error=view.error)
            return []
        if view.cosigner.name not in found:
            view.error = "answered without a cosignature under its key"
            return []
        view.held_size = view.cosigned_size = checkpoint.size
        return mine

    async def _proof(self, old: int, new: int) -> list[bytes]:
        plan = merkle.consistency_proof_plan(old, new)
        async with transaction(self.sessions) as session:
            return await merkle.build_proof(plan, lambda nodes: repo.read_nodes(session, nodes))

    async def _witness_is_ahead(self, view: WitnessView, held: int) -> None:
        # Normal when another replica signed a newer checkpoint; a rollback when the database
        # holds fewer entries than the witness has seen.
        async with transaction(self.sessions) as session:
            stored, _ = await repo.load_state(session)
        if stored < held:
            await self._alarm(
                view,
                f"rollback: the witness has seen {held} entries, the database holds {stored}",
            )

    async def _alarm(self, view: WitnessView, reason: str) -> None:
        view.error = reason
        if self.guard is not None:
            await self.guard.raise_alarm(f"witness {view.url}: {reason}")
        else:
            logger.critical("audit_log_rewritten", witness=view.url, reason=reason)

    def status(self) -> list[dict[str, object]]:
        """Per witness: the size it last cosigned and the last error."""
        return [
            {
                "url": view.url,
                "key": view.cosigner.vkey,
                "cosigned_size": view.cosigned_size,
                "error": view.error,
            }
            for view in self.views
        ]
