"""C2SP signed notes (https://c2sp.org/signed-note), Ed25519 signatures only.

Hand-written because no maintained Python library implements C2SP signed notes; the
reference implementation is Go's golang.org/x/mod/sumdb/note, whose published test
vectors the tests check this module against.

A signed note is a text ending in a newline, a blank line, and one or more signature
lines "— <key name> <base64(4-byte key ID || signature)>". Only signature type 0x01
(Ed25519 over the note text) is supported. Parsing is strict: anything the spec does not
allow is refused with NoteError, before any signature is checked.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass, field
from typing import Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

__all__ = [
    "MAX_SIGNATURES",
    "SIGNATURE_TYPE_ED25519",
    "NoteError",
    "Signer",
    "Verifier",
    "b64decode_strict",
    "key_id",
    "parse_signer_key",
    "parse_verifier_key",
    "signer_key",
    "split_note",
    "verifier_key",
]

SIGNATURE_TYPE_ED25519: Final = 0x01
# The spec asks verifiers to accept at least 16; Go's reference implementation stops at
# 100, which bounds the work an attacker can cause with one note.
MAX_SIGNATURES: Final = 100

_SIG_PREFIX: Final = "\u2014 "  # EM DASH, SPACE
_SIGNER_KEY_PREFIX: Final = "PRIVATE+KEY+"
_ED25519_KEY_SIZE: Final = 32
_ED25519_SIG_SIZE: Final = 64
_KEY_ID_SIZE: Final = 4
_HEX_KEY_ID = re.compile(r"[0-9a-f]{8}")
# ASCII control characters other than newline are forbidden anywhere in a note.
_FORBIDDEN_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f]")
# The Unicode White_Space property (what Go's unicode.IsSpace tests), plus all other
# ASCII control characters, which could never appear in a well-formed note anyway.
_NAME_FORBIDDEN = re.compile(
    r"[+\x00-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
)


class NoteError(ValueError):
    """A note, key or signature that is malformed or does not verify."""


def b64decode_strict(text: str) -> bytes:
    """Decode standard padded base64, refusing anything but the canonical encoding."""
    if not text.isascii():
        raise ValueError("base64 must be ASCII")
    try:
        data = base64.b64decode(text, validate=True)
    except binascii.Error as exc:
        raise ValueError("invalid base64") from exc
    # Re-encoding catches missing padding and non-zero trailing bits, so every value
    # has exactly one accepted spelling.
    if base64.b64encode(data).decode("ascii") != text:
        raise ValueError("non-canonical base64")
    return data


def _is_valid_name(name: str) -> bool:
    return bool(name) and _NAME_FORBIDDEN.search(name) is None and _is_utf8(name)


def _is_utf8(text: str) -> bool:
    # A Python str can hold lone surrogates, which have no UTF-8 encoding.
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _check_name(name: str) -> None:
    if not _is_valid_name(name):
        raise NoteError(f"invalid key name {name!r}: must be non-empty, without spaces or '+'")


def key_id(name: str, public_key: bytes) -> bytes:
    """Return the 4-byte key ID of an Ed25519 key: SHA-256(name || 0x0A || 0x01 || key)[:4]."""
    data = name.encode("utf-8") + b"\n" + bytes([SIGNATURE_TYPE_ED25519]) + public_key
    return hashlib.sha256(data).digest()[:_KEY_ID_SIZE]


def _encode_key(name: str, kid: bytes, key: bytes) -> str:
    encoded = base64.b64encode(bytes([SIGNATURE_TYPE_ED25519]) + key).decode("ascii")
    return f"{name}+{kid.hex()}+{encoded}"


def _decode_key(text: str) -> tuple[str, bytes, bytes]:
    """Split "<name>+<hex key ID>+<base64 0x01||key>" into name, key ID and 32-byte key."""
    # The name cannot contain '+', the key ID is hex, and base64 may contain '+', so
    # the first two '+' are the separators.
    name, sep1, rest = text.partition("+")
    hex_id, sep2, encoded = rest.partition("+")
    if not (sep1 and sep2):
        raise NoteError("key must have the form <name>+<key id>+<key>")
    _check_name(name)
    if _HEX_KEY_ID.fullmatch(hex_id) is None:
        raise NoteError("key id must be 8 lowercase hexadecimal digits")
    try:
        data = b64decode_strict(encoded)
    except ValueError as exc:
        raise NoteError(f"key data: {exc}") from exc
    if not data or data[0] != SIGNATURE_TYPE_ED25519:
        raise NoteError("unsupported signature type: only Ed25519 (0x01) is accepted")
    key = data[1:]
    if len(key) != _ED25519_KEY_SIZE:
        raise NoteError("an Ed25519 key must be 32 bytes")
    return name, bytes.fromhex(hex_id), key


def verifier_key(name: str, public_key: bytes) -> str:
    """Encode a verifier key as "<name>+<hex key ID>+<base64(0x01 || public key)>"."""
    _check_name(name)
    if len(public_key) != _ED25519_KEY_SIZE:
        raise NoteError("an Ed25519 public key must be 32 bytes")
    return _encode_key(name, key_id(name, public_key), public_key)


def parse_verifier_key(text: str) -> Verifier:
    """Parse a verifier key, checking the name, signature type and key ID."""
    name, kid, public_key = _decode_key(text)
    if kid != key_id(name, public_key):
        raise NoteError("key id does not match the name and public key")
    return Verifier(name, public_key)


def signer_key(name: str, private_key: Ed25519PrivateKey) -> str:
    """Encode a secret signer key as "PRIVATE+KEY+<name>+<hex key ID>+<base64(0x01 || seed)>"."""
    _check_name(name)
    public_key = private_key.public_key().public_bytes_raw()
    seed = private_key.private_bytes_raw()
    return _SIGNER_KEY_PREFIX + _encode_key(name, key_id(name, public_key), seed)


def parse_signer_key(text: str) -> Signer:
    """Parse a secret signer key in Go's note.NewSigner format, checking the key ID."""
    if not text.startswith(_SIGNER_KEY_PREFIX):
        raise NoteError("signer key must start with PRIVATE+KEY+")
    name, kid, seed = _decode_key(text.removeprefix(_SIGNER_KEY_PREFIX))
    signer = Signer(name, Ed25519PrivateKey.from_private_bytes(seed))
    # The key ID commits to the public key, so it can only be checked after derivation.
    if kid != signer.key_id:
        raise NoteError("key id does not match the name and public key")
    return signer


@dataclass(frozen=True, slots=True)
class _SignatureLine:
    name: str
    key_id: bytes
    signature: bytes


def _check_text(text: str) -> None:
    if not text.endswith("\n"):
        raise NoteError("malformed note: text must end with a newline")
    if _FORBIDDEN_CONTROL.search(text) is not None:
        raise NoteError("malformed note: control characters are not allowed")
    if not _is_utf8(text):
        raise NoteError("malformed note: not valid UTF-8")


def _parse_note(note: str) -> tuple[str, list[_SignatureLine]]:
    """Split a note into its text and well-formed signature lines, verifying nothing."""
    if _FORBIDDEN_CONTROL.search(note) is not None:
        raise NoteError("malformed note: control characters are not allowed")
    if not _is_utf8(note):
        raise NoteError("malformed note: not valid UTF-8")
    # The text may contain blank lines; the last blank line separates the signatures.
    split = note.rfind("\n\n")
    if split < 0:
        raise NoteError("malformed note: no blank line before the signatures")
    text, block = note[: split + 1], note[split + 2 :]
    if not block.endswith("\n"):
        raise NoteError("malformed note: signature lines must end with a newline")
    if block.count("\n") > MAX_SIGNATURES:
        raise NoteError(f"malformed note: more than {MAX_SIGNATURES} signatures")
    return text, [_parse_signature_line(line) for line in block[:-1].split("\n")]


def _parse_signature_line(line: str) -> _SignatureLine:
    if not line.startswith(_SIG_PREFIX):
        raise NoteError("malformed note: signature line must start with an em dash and a space")
    name, sep, encoded = line.removeprefix(_SIG_PREFIX).partition(" ")
    if not sep or not _is_valid_name(name):
        raise NoteError("malformed note: invalid key name in signature line")
    try:
        raw = b64decode_strict(encoded)
    except ValueError as exc:
        raise NoteError(f"malformed note: signature {exc}") from exc
    if len(raw) <= _KEY_ID_SIZE:
        raise NoteError("malformed note: signature too short")
    return _SignatureLine(name, raw[:_KEY_ID_SIZE], raw[_KEY_ID_SIZE:])


def split_note(note: str) -> tuple[str, list[tuple[str, bytes, bytes]]]:
    """Split a note into its text and its (key name, key ID, signature) lines, verifying nothing.

    For signature types other than 0x01 (cosignatures, shared.tlog.cosignature), which share
    the note format but sign a different message.
    """
    text, lines = _parse_note(note)
    return text, [(line.name, line.key_id, line.signature) for line in lines]


@dataclass(frozen=True, slots=True)
class Verifier:
    """An Ed25519 note verifier: a key name and a 32-byte public key."""

    name: str
    public_key: bytes

    def __post_init__(self) -> None:
        _check_name(self.name)
        if len(self.public_key) != _ED25519_KEY_SIZE:
            raise NoteError("an Ed25519 public key must be 32 bytes")

    @property
    def key_id(self) -> bytes:
        """The 4-byte key ID of this key."""
        return key_id(self.name, self.public_key)

    def verify(self, note: str) -> str:
        """Return the note text if this key signed it; raise NoteError otherwise."""
        text, lines = _parse_note(note)
        message = text.encode("utf-8")
        kid = self.key_id
        public_key = Ed25519PublicKey.from_public_bytes(self.public_key)
        verified = False
        for line in lines:
            # Signatures from other keys are ignored, even if they share our name or
            # our key ID (but not both), so logs can rotate keys and witnesses cosign.
            if line.name != self.name or line.key_id != kid:
                continue
            # A bad signature that claims to be ours rejects the whole note.
            if len(line.signature) != _ED25519_SIG_SIZE:
                raise NoteError(f"invalid signature for key {self.name}+{kid.hex()}")
            try:
                public_key.verify(line.signature, message)
            except InvalidSignature as exc:
                raise NoteError(f"invalid signature for key {self.name}+{kid.hex()}") from exc
            verified = True
        if not verified:
            raise NoteError(f"note has no signature from key {self.name}+{kid.hex()}")
        return text


@dataclass(frozen=True, eq=False)
class Signer:
    """An Ed25519 note signer: a key name and a private key."""

    name: str
    private_key: Ed25519PrivateKey = field(repr=False)

    def __post_init__(self) -> None:
        _check_name(self.name)

    @property
    def public_key(self) -> bytes:
        """The raw 32-byte public key."""
        return self.private_key.public_key().public_bytes_raw()

    @property
    def key_id(self) -> bytes:
        """The 4-byte key ID of this key."""
        return key_id(self.name, self.public_key)

    def verifier(self) -> Verifier:
        """Return the verifier for this signer's key."""
        return Verifier(self.name, self.public_key)

    def sign(self, text: str) -> str:
        """Return the signed note: text, a blank line and this key's signature line."""
        _check_text(text)
        signature = self.private_key.sign(text.encode("utf-8"))
        encoded = base64.b64encode(self.key_id + signature).decode("ascii")
        return f"{text}\n{_SIG_PREFIX}{self.name} {encoded}\n"
