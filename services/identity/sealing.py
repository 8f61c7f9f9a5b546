"""Secrets at rest: AES-256-GCM under the key-encryption key, bound to the row they belong to.

The associated data names the row (for example `party_keys:<kid>`), so a sealed value
copied into another row by someone with database access does not open there.
"""

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

VERSION = b"\x01"
NONCE_BYTES = 12


class SealError(Exception):
    """A sealed value does not open: wrong key, wrong row, or tampered."""


def seal(kek: bytes, plaintext: bytes, *, bound_to: str) -> bytes:
    """Encrypt `plaintext` for the row named `bound_to`."""
    nonce = os.urandom(NONCE_BYTES)
    return VERSION + nonce + AESGCM(kek).encrypt(nonce, plaintext, bound_to.encode())


def unseal(kek: bytes, sealed: bytes, *, bound_to: str) -> bytes:
    """Decrypt a value sealed for the row named `bound_to`."""
    if len(sealed) < 1 + NONCE_BYTES + 16 or sealed[:1] != VERSION:
        raise SealError("not a sealed value")
    nonce, ciphertext = sealed[1 : 1 + NONCE_BYTES], sealed[1 + NONCE_BYTES :]
    try:
        return AESGCM(kek).decrypt(nonce, ciphertext, bound_to.encode())
    except InvalidTag as exc:
        raise SealError("sealed value does not open for this row") from exc
