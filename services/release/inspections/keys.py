"""The inspection VRF key: the release service's alone, published by its public half.

The secret key comes from the `inspection_vrf_key` setting and never leaves this object: no
endpoint, log line or event carries it. A key is named by its `key_id`, the unpadded
base64url SHA-256 of its public key; each draw names the key it was made with, and every
public key the service has drawn with is kept (`inspection_keys`), so rotating the secret
key (changing the setting) leaves every old draw verifiable.
"""

import base64
import hashlib

from sqlmodel.ext.asyncio.session import AsyncSession

from services.release.inspections import repository
from shared import vrf

SUITE = "ECVRF-EDWARDS25519-SHA512-TAI"


def b64(data: bytes) -> str:
    """Unpadded base64url, as keys, proofs and outputs are published."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def key_id_of(public_key: bytes) -> str:
    """The name of a VRF public key."""
    return b64(hashlib.sha256(public_key).digest())


class DrawingKey:
    """The current VRF key of this process."""

    def __init__(self, seed: bytes) -> None:
        self._seed = seed
        self.public_key = vrf.public_key(seed)
        self.key_id = key_id_of(self.public_key)
        self._registered = False

    def __repr__(self) -> str:  # never the seed, whoever prints the object
        return f"DrawingKey(key_id={self.key_id!r})"

    def prove(self, alpha: bytes) -> bytes:
        """The VRF proof of `alpha` under this key."""
        return vrf.prove(self._seed, alpha)

    async def register(self, session: AsyncSession) -> None:
        """Publish the public key (once per process; idempotent across processes)."""
        if self._registered:
            return
        await repository.add_key_if_missing(session, self.key_id, self.public_key)
        self._registered = True
