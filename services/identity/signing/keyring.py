"""The keyring as the running service sees it: reloaded from the database every few seconds.

The reload reads through its own read-only session: it is called from inside requests that
already hold a write transaction, and on SQLite a second writer there would wait for the
first, which waits for it (a self-deadlock until the busy timeout). One reload at a time.
"""

import asyncio
import time
from collections.abc import Callable
from datetime import datetime

from joserfc.jwk import OKPKey

from services.identity.settings import IdentitySettings
from services.identity.signing.service import KeyRing, load_keyring
from shared.db import SessionFactory
from shared.models import utcnow
from shared.problems import Problem


class KeyRingCache:
    """Holds the current keyring; keys rotate rarely, so a short reload interval is plenty."""

    def __init__(
        self,
        settings: IdentitySettings,
        sessions: SessionFactory,
        ttl_seconds: float = 5.0,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._settings = settings
        self._sessions = sessions
        self._ttl = ttl_seconds
        # Which keys sign and which are published depends on the time; tests move it.
        self._clock = clock
        self._ring: KeyRing | None = None
        self._loaded_at = 0.0
        self._reloading = asyncio.Lock()

    def _stale(self) -> bool:
        return time.monotonic() - self._loaded_at > self._ttl

    async def get(self) -> KeyRing:
        """The keyring, reloaded when older than the TTL."""
        ring = self._ring
        if ring is None or self._stale():
            async with self._reloading:
                ring = self._ring
                if ring is None or self._stale():
                    async with self._sessions() as session, session.begin():
                        ring = await load_keyring(session, self._settings, self._clock())
                    self._ring = ring
                    self._loaded_at = time.monotonic()
        return ring

    def invalidate(self) -> None:
        """Forget the keyring (after a rotation in this process)."""
        self._ring = None

    async def signing(self) -> tuple[str, OKPKey]:
        """The key that signs now; 503 if none does (a misconfigured rotation)."""
        ring = await self.get()
        if ring.signing is None:
            raise Problem("no_signing_key", "no signing key is active", status=503)
        return ring.signing
