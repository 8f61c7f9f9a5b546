"""C2SP tlog-witness (https://c2sp.org/tlog-witness): the add-checkpoint request and answers.

    POST <witness>/add-checkpoint

    old <size>\\n
    <base64 consistency proof hash>\\n   (0 to 63 lines; none when old is 0)
    \\n
    <signed checkpoint note, which may carry several signatures>

Answers: 200 with the witness's cosignature line(s); 409 with `text/x.tlog.size` (the size
the witness holds, then a newline) when `old` is not that size, or when a checkpoint of the
same size has another root; 422 when the proof does not verify; 400 for a malformed body or
`old` above the checkpoint's size; 403 when no signature verifies under a key the witness
trusts for the origin; 404 for an unknown origin.

Both sides live here: the witness parses with `parse_add_checkpoint`, a log submits with
`submit`. Parsing is strict: every value has one accepted spelling.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import httpx

from shared.tlog.checkpoint import decode_hash, parse_uint64
from shared.tlog.cosignature import signature_lines
from shared.tlog.note import NoteError

__all__ = [
    "MAX_PROOF_LINES",
    "SIZE_MEDIA_TYPE",
    "AddCheckpoint",
    "Answer",
    "ProtocolError",
    "format_add_checkpoint",
    "parse_add_checkpoint",
    "parse_size_body",
    "submit",
]

MAX_PROOF_LINES: Final = 63
SIZE_MEDIA_TYPE: Final = "text/x.tlog.size"
PATH: Final = "/add-checkpoint"


class ProtocolError(ValueError):
    """A request or answer that does not follow the protocol."""


@dataclass(frozen=True, slots=True)
class AddCheckpoint:
    """One add-checkpoint request: the size the client believes the witness holds, the proof
    from it, and the signed checkpoint."""

    old_size: int
    proof: tuple[bytes, ...]
    note: str


def format_add_checkpoint(old_size: int, proof: Sequence[bytes], note: str) -> bytes:
    """The request body."""
    if len(proof) > MAX_PROOF_LINES:
        raise ProtocolError(f"at most {MAX_PROOF_LINES} proof lines")
    hashes = [base64.b64encode(h).decode("ascii") + "\n" for h in proof]
    lines = [f"old {old_size}\n", *hashes, "\n"]
    return ("".join(lines) + note).encode("utf-8")


def parse_add_checkpoint(body: bytes) -> AddCheckpoint:
    """Parse a request body; ProtocolError (a 400) if it is not well formed."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ProtocolError("the body is not UTF-8") from exc
    head, sep, note = text.partition("\n\n")
    if not sep:
        raise ProtocolError("no blank line between the proof and the checkpoint")
    first, *proof_lines = head.split("\n")
    if not first.startswith("old "):
        raise ProtocolError("the body must start with an 'old <size>' line")
    try:
        old_size = parse_uint64(first.removeprefix("old "))
    except ValueError as exc:
        raise ProtocolError(f"old size: {exc}") from exc
    if len(proof_lines) > MAX_PROOF_LINES:
        raise ProtocolError(f"more than {MAX_PROOF_LINES} consistency proof lines")
    try:
        proof = tuple(decode_hash(line) for line in proof_lines)
    except ValueError as exc:
        raise ProtocolError(f"consistency proof: {exc}") from exc
    if old_size == 0 and proof:
        raise ProtocolError("the proof must be empty when the old size is 0")
    return AddCheckpoint(old_size, proof, note)


def parse_size_body(text: str) -> int:
    """The size in a 409 answer's `text/x.tlog.size` body."""
    if not text.endswith("\n"):
        raise ProtocolError("a size body ends with a newline")
    try:
        return parse_uint64(text[:-1])
    except ValueError as exc:
        raise ProtocolError(f"size body: {exc}") from exc


@dataclass(frozen=True, slots=True)
class Answer:
    """What a witness said: `lines` when it cosigned, `held_size` on a 409, else a refusal."""

    status: int
    lines: tuple[str, ...] = ()
    held_size: int | None = None
    detail: str = ""


async def submit(
    client: httpx.AsyncClient, url: str, old_size: int, proof: Sequence[bytes], note: str
) -> Answer:
    """POST one add-checkpoint to the witness at `url` (its submission prefix)."""
    response = await client.post(
        url.rstrip("/") + PATH, content=format_add_checkpoint(old_size, proof, note)
    )
    status = response.status_code
    if status == 200:
        try:
            return Answer(200, lines=tuple(signature_lines(response.text)))
        except NoteError as exc:
            raise ProtocolError(f"the witness answered 200 without signature lines: {exc}") from exc
    if status == 409:
        media = response.headers.get("content-type", "").partition(";")[0].strip()
        if media != SIZE_MEDIA_TYPE:
            raise ProtocolError(f"a 409 must be {SIZE_MEDIA_TYPE}, not {media!r}")
        return Answer(409, held_size=parse_size_body(response.text))
    return Answer(status, detail=response.text[:500])
