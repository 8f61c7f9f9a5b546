"""C2SP transparency-log checkpoints (https://c2sp.org/tlog-checkpoint).

Hand-written because no maintained Python library implements C2SP checkpoints or the
signed notes that carry them (see shared.tlog.note).

A checkpoint is the text of a signed note: the log's origin, the tree size in decimal,
the base64 RFC 6962 root hash, then optional non-empty extension lines, each line
ending in a newline. Parsing is strict so that each checkpoint has exactly one spelling.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from typing import Final

from shared.tlog.note import Signer, Verifier, b64decode_strict

__all__ = [
    "HASH_SIZE",
    "MAX_TREE_SIZE",
    "Checkpoint",
    "CheckpointError",
    "decode_hash",
    "open_checkpoint",
    "parse_checkpoint",
    "parse_uint64",
    "sign_checkpoint",
]

HASH_SIZE: Final = 32
MAX_TREE_SIZE: Final = 2**64 - 1

# ASCII digits only: int() would also accept "+1", " 1", "1_0" and non-ASCII digits.
_DECIMAL = re.compile(r"0|[1-9][0-9]{0,19}")
_FORBIDDEN_IN_LINE = re.compile(r"[\x00-\x1f]")


class CheckpointError(ValueError):
    """A checkpoint that is malformed or is not for the expected log."""


def parse_uint64(text: str) -> int:
    """Parse an ASCII decimal in [0, 2**64) written without leading zeros."""
    if _DECIMAL.fullmatch(text) is None:
        raise ValueError(f"not a decimal without leading zeros: {text[:32]!r}")
    value = int(text)
    if value > MAX_TREE_SIZE:
        raise ValueError("number does not fit in 64 bits")
    return value


def decode_hash(text: str) -> bytes:
    """Decode one base64 SHA-256 hash, as written in checkpoints and proofs."""
    digest = b64decode_strict(text)
    if len(digest) != HASH_SIZE:
        raise ValueError(f"a hash must be {HASH_SIZE} bytes")
    return digest


def _check_line(value: str, what: str) -> None:
    if not value:
        raise CheckpointError(f"{what} must be non-empty")
    if "\n" in value or _FORBIDDEN_IN_LINE.search(value) is not None:
        raise CheckpointError(f"{what} must be one line without control characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise CheckpointError(f"{what} must be valid UTF-8") from exc


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A signed tree head: log origin, tree size, root hash and extension lines."""

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_line(self.origin, "origin")
        if not 0 <= self.size <= MAX_TREE_SIZE:
            raise CheckpointError("tree size must be in [0, 2**64)")
        if len(self.root_hash) != HASH_SIZE:
            raise CheckpointError(f"root hash must be {HASH_SIZE} bytes")
        for line in self.extensions:
            _check_line(line, "extension line")

    def format(self) -> str:
        """Return the checkpoint as note text, every line ending in a newline."""
        root = base64.b64encode(self.root_hash).decode("ascii")
        lines = [self.origin, str(self.size), root, *self.extensions]
        return "".join(f"{line}\n" for line in lines)


def parse_checkpoint(text: str) -> Checkpoint:
    """Parse checkpoint note text (already verified), refusing any other spelling."""
    if not text.endswith("\n"):
        raise CheckpointError("checkpoint must end with a newline")
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise CheckpointError("checkpoint must have origin, size and root hash lines")
    origin, size, root, *extensions = lines
    try:
        return Checkpoint(origin, parse_uint64(size), decode_hash(root), tuple(extensions))
    except CheckpointError:
        raise
    except ValueError as exc:
        raise CheckpointError(str(exc)) from exc


def sign_checkpoint(checkpoint: Checkpoint, signer: Signer) -> str:
    """Return the checkpoint as a note signed by signer."""
    return signer.sign(checkpoint.format())


def open_checkpoint(note: str, verifier: Verifier, origin: str) -> Checkpoint:
    """Verify a signed checkpoint note and return it if it is for the expected origin."""
    checkpoint = parse_checkpoint(verifier.verify(note))
    if checkpoint.origin != origin:
        raise CheckpointError(f"checkpoint is for origin {checkpoint.origin!r}, not {origin!r}")
    return checkpoint
