"""C2SP tlog-cosignature v1 (https://c2sp.org/tlog-cosignature), Ed25519 only.

Hand-written for the same reason as shared.tlog.note: no maintained Python library
implements C2SP cosignatures. A cosignature is a signed-note signature line

    — <cosigner name> base64(key ID || u64 timestamp || Ed25519 signature)

whose key ID is SHA-256(name || 0x0A || 0x04 || public key)[:4] (signature type 0x04), and
whose signature is over "cosignature/v1\\ntime <timestamp>\\n" followed by the whole
checkpoint text. It states: as of that time, this is the largest consistent tree head the
cosigner has seen for the log. The name is not signed, so one key must serve one cosigner.

Cosigner keys are written as signed-note verifier keys of type 0x04,
"<name>+<hex key ID>+<base64(0x04 || public key)>"; a verifier counts only the lines of the
cosigners it is configured with, and refuses a note in which such a line does not verify.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from shared.tlog.note import NoteError, b64decode_strict, split_note

__all__ = [
    "SIGNATURE_TYPE_COSIGNATURE_V1",
    "CosignatureSigner",
    "CosignatureVerifier",
    "QuorumError",
    "cosignature_message",
    "cosigner_key_id",
    "merge_signature_lines",
    "parse_cosigner_key",
    "require_quorum",
    "signature_lines",
    "verify_cosignatures",
]

SIGNATURE_TYPE_COSIGNATURE_V1: Final = 0x04
MAX_TIMESTAMP: Final = 2**63 - 1

_SIG_PREFIX: Final = "\u2014 "
_KEY_SIZE: Final = 32
_SIG_SIZE: Final = 64
_KEY_ID_SIZE: Final = 4
_TIMESTAMP_SIZE: Final = 8
_HEX_KEY_ID = re.compile(r"[0-9a-f]{8}")


class QuorumError(NoteError):
    """Fewer valid cosignatures than required."""


def cosigner_key_id(name: str, public_key: bytes) -> bytes:
    """The 4-byte key ID of a cosignature/v1 key: SHA-256(name || 0x0A || 0x04 || key)[:4]."""
    data = name.encode("utf-8") + b"\n" + bytes([SIGNATURE_TYPE_COSIGNATURE_V1]) + public_key
    return hashlib.sha256(data).digest()[:_KEY_ID_SIZE]


def cosignature_message(text: str, timestamp: int) -> bytes:
    """The message a cosigner signs: header line, time line, then the checkpoint text."""
    if not 0 <= timestamp <= MAX_TIMESTAMP:
        raise NoteError("a cosignature timestamp must be in [0, 2**63)")
    return f"cosignature/v1\ntime {timestamp}\n".encode() + text.encode("utf-8")


def _check_name(name: str) -> None:
    # The same rule as signed-note key names: non-empty, no whitespace, no '+'.
    if not name or "+" in name or any(ch.isspace() for ch in name) or not name.isprintable():
        raise NoteError(f"invalid cosigner name {name!r}")


@dataclass(frozen=True, slots=True)
class CosignatureVerifier:
    """A cosigner's name and Ed25519 public key, as a verifier configures it."""

    name: str
    public_key: bytes

    def __post_init__(self) -> None:
        _check_name(self.name)
        if len(self.public_key) != _KEY_SIZE:
            raise NoteError("an Ed25519 public key must be 32 bytes")

    @property
    def key_id(self) -> bytes:
        """The 4-byte key ID this cosigner's lines carry."""
        return cosigner_key_id(self.name, self.public_key)

    @property
    def vkey(self) -> str:
        """The verifier key "<name>+<hex key ID>+<base64(0x04 || key)>"."""
        encoded = base64.b64encode(bytes([SIGNATURE_TYPE_COSIGNATURE_V1]) + self.public_key)
        return f"{self.name}+{self.key_id.hex()}+{encoded.decode('ascii')}"

    def timestamp_of(self, text: str, signature: bytes) -> int:
        """The timestamp of a valid cosignature of `text`; NoteError if it does not verify."""
        if len(signature) != _TIMESTAMP_SIZE + _SIG_SIZE:
            raise NoteError(f"cosignature of {self.name} has the wrong length")
        timestamp = int.from_bytes(signature[:_TIMESTAMP_SIZE], "big")
        if timestamp > MAX_TIMESTAMP:
            raise NoteError(f"cosignature of {self.name} has a timestamp beyond 2**63 - 1")
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(
                signature[_TIMESTAMP_SIZE:], cosignature_message(text, timestamp)
            )
        except InvalidSignature as exc:
            raise NoteError(f"invalid cosignature from {self.name}") from exc
        return timestamp


def parse_cosigner_key(text: str) -> CosignatureVerifier:
    """Parse "<name>+<hex key ID>+<base64(0x04 || key)>", checking the type and key ID."""
    name, sep1, rest = text.strip().partition("+")
    hex_id, sep2, encoded = rest.partition("+")
    if not (sep1 and sep2) or _HEX_KEY_ID.fullmatch(hex_id) is None:
        raise NoteError("a cosigner key has the form <name>+<8 hex digits>+<base64 key>")
    try:
        data = b64decode_strict(encoded)
    except ValueError as exc:
        raise NoteError(f"cosigner key data: {exc}") from exc
    if not data or data[0] != SIGNATURE_TYPE_COSIGNATURE_V1:
        raise NoteError("not a cosignature/v1 key (signature type 0x04)")
    verifier = CosignatureVerifier(name, data[1:])
    if verifier.key_id.hex() != hex_id:
        raise NoteError("key id does not match the name and public key")
    return verifier


@dataclass(frozen=True, eq=False)
class CosignatureSigner:
    """A cosigner (a witness): its name and Ed25519 private key."""

    name: str
    private_key: Ed25519PrivateKey = field(repr=False)

    def __post_init__(self) -> None:
        _check_name(self.name)

    def verifier(self) -> CosignatureVerifier:
        """The verifier of this cosigner's lines."""
        return CosignatureVerifier(self.name, self.private_key.public_key().public_bytes_raw())

    def cosign(self, text: str, timestamp: int) -> str:
        """One signature line (ending in a newline) cosigning the checkpoint `text`."""
        signature = self.private_key.sign(cosignature_message(text, timestamp))
        raw = self.verifier().key_id + timestamp.to_bytes(_TIMESTAMP_SIZE, "big") + signature
        return f"{_SIG_PREFIX}{self.name} {base64.b64encode(raw).decode('ascii')}\n"


def verify_cosignatures(note: str, cosigners: Iterable[CosignatureVerifier]) -> dict[str, int]:
    """Cosigner name -> timestamp for each configured cosigner with a valid line in `note`.

    Lines of other keys are ignored (the log's own signature among them); a line that claims
    a configured cosigner's name and key ID but does not verify refuses the whole note.
    """
    text, lines = split_note(note)
    by_id = {(c.name, c.key_id): c for c in cosigners}
    found: dict[str, int] = {}
    for name, key_id, signature in lines:
        cosigner = by_id.get((name, key_id))
        if cosigner is None:
            continue
        timestamp = cosigner.timestamp_of(text, signature)
        found[name] = max(timestamp, found.get(name, 0))
    return found


def require_quorum(
    note: str, cosigners: Sequence[CosignatureVerifier], minimum: int
) -> dict[str, int]:
    """The valid cosignatures of `note`, if at least `minimum` distinct cosigners signed."""
    if len({c.vkey for c in cosigners}) < minimum:
        raise QuorumError(f"{minimum} cosignatures asked for, only {len(cosigners)} keys given")
    found = verify_cosignatures(note, cosigners)
    if len(found) < minimum:
        raise QuorumError(
            f"{len(found)} valid cosignature(s) of the {minimum} required"
            + (f" (from {', '.join(sorted(found))})" if found else "")
        )
    return found


def signature_lines(block: str) -> list[str]:
    """The signature lines of a witness's answer (each with its newline); NoteError if not."""
    if not block.endswith("\n") or block == "\n":
        raise NoteError("signature lines must end with a newline")
    lines = [line + "\n" for line in block[:-1].split("\n")]
    for line in lines:
        if not line.startswith(_SIG_PREFIX):
            raise NoteError("a signature line must start with an em dash and a space")
    return lines


def merge_signature_lines(note: str, lines: Iterable[str]) -> str:
    """`note` with the given signature lines appended, each at most once."""
    split_note(note)  # refuse a malformed note before adding to it
    present = set(note[note.rfind("\n\n") + 2 :].splitlines(keepends=True))
    added = [line for line in dict.fromkeys(lines) if line not in present]
    return note + "".join(added)
