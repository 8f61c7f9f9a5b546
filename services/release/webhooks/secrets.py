"""A subscription's signing secret at rest: AES-256-GCM under `WEBHOOK_SECRET_KEY`, bound to
the subscription's id.

The secret signs every delivery (Standard Webhooks), so whoever reads it can forge
deliveries to the subscriber; it is shown once, when the subscription is made, and kept only
sealed. The associated data names the row (`webhook_subscriptions:<id>`), so a sealed secret
copied into another row by someone with database access does not open there. The same
pattern as the identity service's custodial keys, kept apart because the services share no
code but `shared/`.
"""

import os
import uuid

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

VERSION = b"\x01"
NONCE_BYTES = 12


class SealError(Exception):
    """A sealed secret does not open: wrong key, wrong row, or tampered."""


def _bound_to(subscription_id: uuid.UUID) -> bytes:
    return f"webhook_subscriptions:{subscription_id}".encode()


def seal(key: bytes, secret: str, *, subscription_id: uuid.UUID) -> bytes:
    """Encrypt a subscription's secret for its row."""
    nonce = os.urandom(NONCE_BYTES)
    sealed = AESGCM(key).encrypt(nonce, secret.encode(), _bound_to(subscription_id))
    return VERSION + nonce + sealed


def unseal(key: bytes, sealed: bytes, *, subscription_id: uuid.UUID) -> str:
    """Decrypt the secret sealed for this subscription's row."""
    if len(sealed) < 1 + NONCE_BYTES + 16 or sealed[:1] != VERSION:
        raise SealError("not a sealed secret")
    nonce, ciphertext = sealed[1 : 1 + NONCE_BYTES], sealed[1 + NONCE_BYTES :]
    try:
        return AESGCM(key).decrypt(nonce, ciphertext, _bound_to(subscription_id)).decode()
    except InvalidTag as exc:
        raise SealError("the secret does not open for this subscription") from exc
