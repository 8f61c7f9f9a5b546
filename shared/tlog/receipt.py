"""Offline inclusion receipts in the C2SP tlog-proof format (https://c2sp.org/tlog-proof).

Hand-written because no maintained Python library implements C2SP tlog-proof or the
signed notes it embeds (see shared.tlog.note).

Layout, one item per line:

    c2sp.org/tlog-proof@v1
    extra <base64 opaque data>        (optional, not authenticated)
    index <decimal leaf index>
    <base64 proof hash>               (zero or more, leaf's sibling first)
    <empty line>
    <signed checkpoint note, verbatim>
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from shared.tlog import merkle
from shared.tlog.checkpoint import (
    HASH_SIZE,
    MAX_TREE_SIZE,
    Checkpoint,
    decode_hash,
    open_checkpoint,
    parse_uint64,
)
from shared.tlog.note import Verifier, b64decode_strict

__all__ = [
    "HEADER",
    "MAX_PROOF_HASHES",
    "Receipt",
    "ReceiptError",
    "format_receipt",
    "parse_receipt",
    "verify_receipt",
]

HEADER: Final = "c2sp.org/tlog-proof@v1"
# An inclusion proof in a tree of fewer than 2**64 leaves has at most 64 hashes.
MAX_PROOF_HASHES: Final = 64

_EXTRA_PREFIX: Final = "extra "
_INDEX_PREFIX: Final = "index "


class ReceiptError(ValueError):
    """A receipt that is malformed or does not prove inclusion."""


@dataclass(frozen=True, slots=True)
class Receipt:
    """A parsed tlog-proof: leaf index, inclusion proof, signed checkpoint, extra data."""

    index: int
    proof: tuple[bytes, ...]
    checkpoint: str
    extra: bytes | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.index <= MAX_TREE_SIZE:
            raise ReceiptError("index must be in [0, 2**64)")
        if len(self.proof) > MAX_PROOF_HASHES:
            raise ReceiptError(f"inclusion proof has more than {MAX_PROOF_HASHES} hashes")
        if any(len(h) != HASH_SIZE for h in self.proof):
            raise ReceiptError(f"each proof hash must be {HASH_SIZE} bytes")
        # A signed note always ends with its last signature line's newline.
        if not self.checkpoint.endswith("\n"):
            raise ReceiptError("checkpoint must be a signed note ending with a newline")
        # The format has no way to say "empty extra data": the line is left out.
        if self.extra is not None and not self.extra:
            raise ReceiptError("extra data must be non-empty; use None to leave it out")

    def format(self) -> str:
        """Return the receipt in the tlog-proof text format."""
        lines = [HEADER]
        if self.extra is not None:
            lines.append(_EXTRA_PREFIX + base64.b64encode(self.extra).decode("ascii"))
        lines.append(f"{_INDEX_PREFIX}{self.index}")
        lines.extend(base64.b64encode(h).decode("ascii") for h in self.proof)
        lines.append("")
        return "\n".join(lines) + "\n" + self.checkpoint


def format_receipt(
    index: int,
    proof_hashes: Sequence[bytes],
    signed_checkpoint: str,
    extra: bytes | None = None,
) -> str:
    """Return a tlog-proof receipt for the leaf at index under signed_checkpoint."""
    return Receipt(index, tuple(proof_hashes), signed_checkpoint, extra).format()


class _Lines:
    """Reads newline-terminated lines from the front of a text, leaving the rest."""

    def __init__(self, text: str) -> None:
        self._text = text
        self._pos = 0

    def next(self) -> str:
        end = self._text.find("\n", self._pos)
        if end < 0:
            raise ReceiptError("receipt ends before the checkpoint")
        line = self._text[self._pos : end]
        self._pos = end + 1
        return line

    def rest(self) -> str:
        return self._text[self._pos :]


def parse_receipt(text: str) -> Receipt:
    """Parse a tlog-proof receipt; the embedded checkpoint is not verified here."""
    try:
        return _parse(text)
    except ReceiptError:
        raise
    except ValueError as exc:
        raise ReceiptError(str(exc)) from exc


def _parse(text: str) -> Receipt:
    lines = _Lines(text)
    if lines.next() != HEADER:
        raise ReceiptError(f"receipt must start with {HEADER}")
    line = lines.next()
    extra = None
    if line.startswith(_EXTRA_PREFIX):
        extra = b64decode_strict(line.removeprefix(_EXTRA_PREFIX))
        line = lines.next()
    if not line.startswith(_INDEX_PREFIX):
        raise ReceiptError("expected the index line")
    index = parse_uint64(line.removeprefix(_INDEX_PREFIX))
    proof: list[bytes] = []
    while line := lines.next():
        if len(proof) == MAX_PROOF_HASHES:
            raise ReceiptError(f"inclusion proof has more than {MAX_PROOF_HASHES} hashes")
        proof.append(decode_hash(line))
    return Receipt(index, tuple(proof), lines.rest(), extra)


def verify_receipt(text: str, entry_data: bytes, verifier: Verifier, origin: str) -> Checkpoint:
    """Check that entry_data is in the log of origin, signed by verifier; return the checkpoint."""
    receipt = parse_receipt(text)
    checkpoint = open_checkpoint(receipt.checkpoint, verifier, origin)
    if receipt.index >= checkpoint.size:
        raise ReceiptError(f"index {receipt.index} is outside a tree of size {checkpoint.size}")
    leaf = merkle.leaf_hash(entry_data)
    if not merkle.verify_inclusion(
        leaf, receipt.index, checkpoint.size, receipt.proof, checkpoint.root_hash
    ):
        raise ReceiptError("inclusion proof does not match the checkpoint's root hash")
    return checkpoint
