"""Judging one add-checkpoint request (C2SP tlog-witness), and cosigning what passes.

The order of the checks is the spec's: a malformed body is 400; an origin the witness does
not watch is 404; a checkpoint no trusted key signed is 403; `old` above the new size is
400; `old` other than the size held is 409 (the answer names the size held); the same size
with another root is 409 (a fork); a consistency proof that does not verify is 422. Only
then is the new checkpoint stored, by a compare-and-swap on what was held, and cosigned:
of two submissions racing from the same old size, the loser gets the 409 of a stale `old`.
Correctly signed requests that are refused are kept: they can prove a log misbehaved.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass

from services.witness.storage import Held, Storage
from shared.tlog import merkle
from shared.tlog.checkpoint import Checkpoint, CheckpointError, parse_checkpoint
from shared.tlog.cosignature import CosignatureSigner
from shared.tlog.note import NoteError, Verifier, split_note
from shared.tlog.witness_protocol import AddCheckpoint, ProtocolError, parse_add_checkpoint


class Refused(Exception):
    """The witness does not cosign: an HTTP status, a stable code and a reason."""

    def __init__(self, status: int, code: str, reason: str, held_size: int | None = None) -> None:
        super().__init__(reason)
        self.status = status
        self.code = code
        self.reason = reason
        self.held_size = held_size


@dataclass
class Witness:
    """The witness: its cosigner, the logs it watches, and its storage."""

    signer: CosignatureSigner
    logs: dict[str, Verifier]
    storage: Storage
    clock: Callable[[], float] = time.time

    async def add_checkpoint(self, body: bytes) -> str:
        """The cosignature line(s) for a request that passes every check; Refused otherwise."""
        try:
            request = parse_add_checkpoint(body)
        except ProtocolError as exc:
            raise Refused(400, "malformed_request", str(exc)) from exc
        try:
            split_note(request.note)
        except NoteError as exc:
            raise Refused(400, "malformed_checkpoint", str(exc)) from exc
        origin = request.note.partition("\n")[0]
        verifier = self.logs.get(origin)
        if verifier is None:
            raise Refused(404, "unknown_log", f"this witness does not watch {origin[:100]!r}")
        try:
            checkpoint = parse_checkpoint(verifier.verify(request.note))
        except NoteError as exc:
            raise Refused(403, "not_signed_by_the_log", str(exc)) from exc
        except CheckpointError as exc:
            raise Refused(400, "malformed_checkpoint", str(exc)) from exc
        if request.old_size > checkpoint.size:
            raise Refused(400, "old_size_too_large", "old size is above the checkpoint's size")
        held = await self.storage.held(origin)
        try:
            self._check_consistency(request, checkpoint, held)
        except Refused as refused:
            if refused.status != 409 or refused.code == "fork":
                await self.storage.record_refusal(
                    origin, refused.status, refused.reason, body.decode()
                )
            raise
        new = Held(checkpoint.size, checkpoint.root_hash, request.note)
        if not await self.storage.replace(origin, held, new):
            now_held = await self.storage.held(origin)
            raise Refused(409, "old_size_mismatch", "another submission won", _size(now_held))
        return self.signer.cosign(checkpoint.format(), int(self.clock()))

    @staticmethod
    def _check_consistency(
        request: AddCheckpoint, checkpoint: Checkpoint, held: Held | None
    ) -> None:
        held_size = _size(held)
        if request.old_size != held_size:
            raise Refused(
                409,
                "old_size_mismatch",
                f"the witness holds a checkpoint of size {held_size}",
                held_size,
            )
        if held is None:
            return
        if held.size == 0 and checkpoint.size > 0:
            # Every tree extends the empty one (RFC 9162: the proof from size 0 is empty); a
            # log's first checkpoint may well be of its empty tree.
            if request.proof:
                raise Refused(422, "inconsistent", "a proof from the empty tree is empty")
            return
        if held.size == checkpoint.size:
            if held.root_hash != checkpoint.root_hash or request.proof:
                raise Refused(409, "fork", "another root for the size the witness holds", held_size)
            return
        if not merkle.verify_consistency(
            held.size, checkpoint.size, held.root_hash, checkpoint.root_hash, request.proof
        ):
            raise Refused(
                422,
                "inconsistent",
                f"the proof does not show the tree of {checkpoint.size} extending the one of"
                f" {held.size} the witness holds",
            )


def _size(held: Held | None) -> int:
    return 0 if held is None else held.size
