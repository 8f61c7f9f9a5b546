"""Wrong passwords and codes, limited per person and per client address, with back-off.

Failures are counted per subject (a username, a client address) in a fixed window that
starts at the first failure. The failure that reaches the subject's limit locks it out for
`base_lockout_seconds`; once that lock has passed, each further failure locks it again for
twice as long as the last time, up to `max_lockout_seconds`. While locked, every attempt is
refused before any password or code is looked at, so even the right code does not help an
attacker who has used up his guesses. A success clears the person's failures.

A lock is stored as "<deadline> <lock-out seconds>" and kept one window past its deadline:
that memory is what lets the next failure double the lock-out. Deadlines are wall-clock
times from the caller's `now`, so replicas agree and tests can move time on.

The cache is not the source of truth and need not be: losing it only forgets failures.
Usernames are hashed into the key, so the cache holds no names (and no mistyped
passwords that users sometimes type into the username field).
"""

import hashlib
import math
import time
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.responses import JSONResponse

from services.identity.deps import SettingsDep
from shared.cache import Cache
from shared.deps import CacheDep
from shared.problems import Problem, problem_response

BASE_LOCKOUT_SECONDS = 30
MAX_LOCKOUT_SECONDS = 3600


class TooManyAttempts(Problem):
    """429: a person or an address used up its attempts; try again after `retry_after`."""

    status = 429

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            "too_many_attempts",
            f"too many failed attempts; try again in {retry_after} s",
            retry_after=retry_after,
        )
        self.retry_after = retry_after


def rate_limited_response(exc: TooManyAttempts) -> JSONResponse:
    """The 429 problem document with its Retry-After header."""
    response = problem_response(exc.status, exc.code, exc.detail, exc.extensions)
    response.headers["Retry-After"] = str(exc.retry_after)
    return response


@dataclass(frozen=True)
class _Lock:
    deadline: float
    lockout: int


class SignInLimiter:
    """Counts failures per person and per address on the cache; see the module docstring."""

    def __init__(
        self,
        cache: Cache,
        *,
        per_person: int,
        per_address: int,
        window_seconds: int,
        base_lockout_seconds: int = BASE_LOCKOUT_SECONDS,
        max_lockout_seconds: int = MAX_LOCKOUT_SECONDS,
    ) -> None:
        if min(per_person, per_address, window_seconds, base_lockout_seconds) < 1:
            raise ValueError("limits, window and lock-out must be positive")
        self._cache = cache
        self._limits = {"person": per_person, "address": per_address}
        self._window = window_seconds
        self._base = base_lockout_seconds
        self._max = max(max_lockout_seconds, base_lockout_seconds)

    async def check(self, *, username: str, address: str, now: float) -> None:
        """Raise TooManyAttempts while the person or the address is locked out."""
        wait = 0.0
        for subject in (_person(username), _address(address)):
            lock = await self._lock(subject)
            if lock is not None:
                wait = max(wait, lock.deadline - now)
        if wait > 0:
            raise TooManyAttempts(retry_after=max(1, math.ceil(wait)))

    async def failed(self, *, username: str, address: str, now: float) -> None:
        """Count a wrong password or code against the person and the address."""
        for kind, subject in (("person", _person(username)), ("address", _address(address))):
            count = await self._cache.incr(f"signin:failures:{subject}", self._window)
            previous = await self._lock(subject)
            if previous is not None:
                lockout = min(previous.lockout * 2, self._max)
            elif count >= self._limits[kind]:
                lockout = self._base
            else:
                continue
            key = f"signin:lock:{subject}"
            # The Cache interface has no plain SET; a concurrent failure that slips in
            # between the two calls sets a lock of its own, which is just as good.
            await self._cache.delete(key)
            await self._cache.set_if_absent(
                key, f"{now + lockout!r} {lockout}", lockout + self._window
            )

    async def succeeded(self, *, username: str) -> None:
        """Forget the person's failures after a successful sign-in."""
        subject = _person(username)
        await self._cache.delete(f"signin:failures:{subject}")
        await self._cache.delete(f"signin:lock:{subject}")

    async def _lock(self, subject: str) -> _Lock | None:
        value = await self._cache.get(f"signin:lock:{subject}")
        if value is None:
            return None
        deadline, _, lockout = value.partition(" ")
        try:
            return _Lock(deadline=float(deadline), lockout=int(lockout))
        except ValueError:
            return None  # not written by us; treat as no lock rather than fail


def _person(username: str) -> str:
    digest = hashlib.sha256(username.encode("utf-8", "surrogatepass")).hexdigest()
    return f"person:{digest[:32]}"


def _address(address: str) -> str:
    return f"address:{address}"


# --- request plumbing shared by the sign-in, TOTP and gate-pass endpoints -------------------


def current_time() -> float:
    """Now, as seconds since the epoch; tests override this dependency to move time."""
    return time.time()


def client_address(request: Request) -> str:
    """The address the request came from (the peer; no proxy headers are trusted here)."""
    return request.client.host if request.client else "unknown"


def get_limiter(settings: SettingsDep, cache: CacheDep) -> SignInLimiter:
    """The sign-in limiter over the service's cache."""
    return SignInLimiter(
        cache,
        per_person=settings.sign_in_failures_per_person,
        per_address=settings.sign_in_failures_per_address,
        window_seconds=settings.sign_in_failure_window_seconds,
    )


NowDep = Annotated[float, Depends(current_time)]
ClientAddressDep = Annotated[str, Depends(client_address)]
LimiterDep = Annotated[SignInLimiter, Depends(get_limiter)]
