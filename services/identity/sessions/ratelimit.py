"""Wrong passwords and codes: limited per person, per source and per person at a source.

A *source* is where guesses come from: the client address for sign-in and for a driver's
own phone, or the kiosk for a gate pass that a terminal asks on a driver's behalf (the
kiosk is the caller's identity: the terminal party whose API client or operator asks; its
operators count together with its client, so that more operator accounts buy no more
guesses). Kiosk requests reach this service from the release service's address, and
phones behind a load balancer share the balancer's, so an address alone would make one
person's wrong codes everyone's lock-out. The client address is the peer's, or, when the
peer is one of the configured `trusted_proxies`, the nearest address in the forwarded
chain that is not a trusted proxy (a client can write what it likes to the left of that).
IPv6 clients are counted per /64, the block one subscriber usually holds.

Each attempt counts against three subjects, each with its own limit per window:

- the person *at this source* (`sign_in_failures_per_person`, 5): the guesses one address
  or one kiosk gets at one person;
- the source (`sign_in_failures_per_address`, 20, or `sign_in_failures_per_kiosk`, 100: a
  busy terminal sees many honest typos): guesses spread over many people;
- the person from anywhere (`sign_in_failures_per_person_total`, 50): a guesser with many
  addresses.

The lock-out as denial of service, and the trade-off chosen: someone who knows a driver's
username (or his id, at a kiosk) can lock out only the driver *at the attacker's own
source*: the driver's phone at its own address, and the kiosks of other terminals, go on
working (a corrupt employee of one terminal can lock a driver out at his own terminal's
kiosks only, however many operator accounts he uses). Only an attacker with about ten
sources (`per_person_total / per_person`: addresses, or terminals) can lock the person out
everywhere, by reaching the person-wide limit, and then for the back-off below, at most
`max_lockout_seconds` per failure. That limit is there because without it a guesser with
many addresses (a botnet; IPv6 space is already grouped per /64) would get unbounded
guesses at one person's password; we prefer that such an attacker can deny a person service
for a while (visible in the audit log, where every refusal is recorded with its source)
over letting him guess without bound. A driver who signed in with his code shortly before
gets gate passes on his phone without a code, out of reach of these limits.

Within a subject, the failure that reaches the limit locks the subject out for
`base_lockout_seconds`; once that lock has passed, the subject gets one guess per lock
period, each failure locking it again for twice as long as the last time, up to
`max_lockout_seconds`. While locked, every attempt is refused before any password or code is
looked at, so even the right code does not help an attacker who has used up his guesses. A
success clears the person's failures at that source (not the person-wide count: a driver
who signs in must not give a distributed guesser fresh tries).

Check and count are one step: an attempt *reserves* its slot (an atomic INCR) before the
password or code is looked at, and a reservation past the limit is refused. A burst of
concurrent guesses therefore gets no more tries than the limit, not one per request that
passed a check before the first failure was recorded. An attempt that does not fail (a
success, or a refusal that is no wrong guess) gives its slot back by counting a release;
reading the releases late only makes the limiter stricter, never more lenient.

Counters live in fixed windows of `window_seconds` aligned to the clock (a slot and its
release must land in one counter); a guesser who times his burst across a window's edge
gets at most twice the limit before the lock-out, and the lock-out then holds regardless of
windows. A lock is stored as "<deadline> <lock-out seconds> <generation>" and kept one
window past its deadline: that memory is what lets the next failure double the lock-out.
Deadlines are wall-clock times from the caller's `now`, so replicas agree and tests can
move time on. Outside development the cache must be Redis (the settings refuse anything
else): in-process counters would give a guesser a fresh set per replica.

The cache is not the source of truth and need not be: losing it only forgets failures.
Usernames are hashed into the key, so the cache holds no names (and no mistyped passwords
that users sometimes type into the username field).
"""

import hashlib
import ipaddress
import math
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Literal

from fastapi import Request
from fastapi.responses import JSONResponse

from services.identity.settings import IdentitySettings, ProxyNetwork
from shared.cache import Cache
from shared.problems import Problem, problem_response

BASE_LOCKOUT_SECONDS = 30
MAX_LOCKOUT_SECONDS = 3600
# Longest source id kept as it is in a cache key; longer ones (a proxy's obfuscated node
# names) are hashed, so that no header can make keys grow.
_MAX_SOURCE_LENGTH = 64


class TooManyAttempts(Problem):
    """429: a person or a source used up its attempts; try again after `retry_after`."""

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
class Source:
    """Where guesses come from: a client address, or a kiosk (the caller's identity)."""

    kind: Literal["address", "kiosk"]
    id: str

    @classmethod
    def address(cls, host: str) -> "Source":
        """A client address; IPv6 counted per /64."""
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            return cls("address", _bounded(host))
        if isinstance(ip, ipaddress.IPv6Address):
            if ip.ipv4_mapped is not None:
                return cls("address", str(ip.ipv4_mapped))
            return cls("address", str(ipaddress.IPv6Network((ip, 64), strict=False)))
        return cls("address", str(ip))

    @classmethod
    def kiosk(cls, party_id: str) -> "Source":
        """A kiosk: the terminal party whose client or operator asks on a driver's behalf."""
        return cls("kiosk", _bounded(party_id))

    @property
    def subject(self) -> str:
        """Its name in cache keys."""
        return f"{self.kind}:{self.id}"


def _bounded(value: str) -> str:
    if len(value) <= _MAX_SOURCE_LENGTH and value.isprintable():
        return value
    return "h:" + hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:32]


@dataclass(frozen=True)
class _Lock:
    deadline: float
    lockout: int
    generation: int


@dataclass(frozen=True)
class _Slot:
    """One attempt's place in one subject's counters."""

    subject: str
    generation: int
    budget: int
    counters: str  # "<subject>:<generation>:<window index>"


@dataclass
class Attempt:
    """A reserved attempt; say `failed()` or `succeeded()`, or leave it to be given back."""

    limiter: "SignInLimiter"
    slots: tuple[_Slot, ...]  # the person at the source first, then the source, the person
    now: float
    settled: bool = field(default=False)

    async def failed(self) -> None:
        """A wrong password or code: the slots stay used; the limit's last one locks."""
        self.settled = True
        for slot in self.slots:
            await self.limiter._count_failure(slot, now=self.now)

    async def succeeded(self) -> None:
        """The right password and code: give the slots back, clear the person at the source."""
        self.settled = True
        pair, *others = self.slots
        await self.limiter._release(others)
        await self.limiter._forget(pair, now=self.now)


class SignInLimiter:
    """Reserves attempts per person, source and person at a source; see the module docstring."""

    def __init__(
        self,
        cache: Cache,
        *,
        per_person: int,
        per_address: int,
        window_seconds: int,
        per_kiosk: int | None = None,
        per_person_total: int | None = None,
        base_lockout_seconds: int = BASE_LOCKOUT_SECONDS,
        max_lockout_seconds: int = MAX_LOCKOUT_SECONDS,
    ) -> None:
        per_kiosk = per_address if per_kiosk is None else per_kiosk
        per_person_total = 10 * per_person if per_person_total is None else per_person_total
        limits = (per_person, per_address, per_kiosk, per_person_total)
        if min(*limits, window_seconds, base_lockout_seconds) < 1:
            raise ValueError("limits, window and lock-out must be positive")
        self._cache = cache
        self._per_person = per_person
        self._per_source = {"address": per_address, "kiosk": per_kiosk}
        self._per_person_total = per_person_total
        self._window = window_seconds
        self._base = base_lockout_seconds
        self._max = max(max_lockout_seconds, base_lockout_seconds)

    @asynccontextmanager
    async def attempt(self, *, username: str, source: Source, now: float) -> AsyncIterator[Attempt]:
        """Reserve an attempt at `username` from `source`, or raise TooManyAttempts."""
        subjects = (
            (_pair(username, source), self._per_person),
            (source.subject, self._per_source[source.kind]),
            (_person(username), self._per_person_total),
        )
        locks = [await self._lock(subject) for subject, _ in subjects]
        wait = max((lock.deadline - now for lock in locks if lock is not None), default=0.0)
        if wait > 0:
            raise TooManyAttempts(retry_after=max(1, math.ceil(wait)))
        slots: list[_Slot] = []
        for (subject, limit), lock in zip(subjects, locks, strict=True):
            slot = await self._reserve(subject, limit, lock, now=now)
            if slot is None:
                # Over the limit with no lock yet: the last slots are still being judged.
                await self._release(slots)
                raise TooManyAttempts(retry_after=1)
            slots.append(slot)
        attempt = Attempt(limiter=self, slots=tuple(slots), now=now)
        try:
            yield attempt
        finally:
            if not attempt.settled:
                await self._release(attempt.slots)

    async def _reserve(
        self, subject: str, limit: int, lock: _Lock | None, *, now: float
    ) -> _Slot | None:
        generation = lock.generation if lock is not None else 0
        # After a lock-out, one guess per lock period (the next failure doubles it).
        budget = limit if generation == 0 else 1
        counters = f"{subject}:{generation}:{int(now // self._window)}"
        slot = _Slot(subject=subject, generation=generation, budget=budget, counters=counters)
        taken = await self._cache.incr(f"signin:attempts:{counters}", self._window)
        if taken - await self._count(f"signin:released:{counters}") > budget:
            await self._release([slot])
            return None
        return slot

    async def _release(self, slots: Sequence[_Slot]) -> None:
        for slot in slots:
            await self._cache.incr(f"signin:released:{slot.counters}", self._window)

    async def _count_failure(self, slot: _Slot, *, now: float) -> None:
        failures = await self._cache.incr(f"signin:failures:{slot.counters}", self._window)
        # Reservations keep failures at or under the budget: exactly one failure reaches it.
        if failures != slot.budget:
            return
        lockout = min(self._base * 2 ** min(slot.generation, 32), self._max)
        key = f"signin:lock:{slot.subject}"
        # The Cache interface has no plain SET; only the failure that reached the budget
        # gets here, so nobody else writes this lock between the two calls.
        await self._cache.delete(key)
        await self._cache.set_if_absent(
            key, f"{now + lockout!r} {lockout} {slot.generation + 1}", lockout + self._window
        )

    async def _forget(self, slot: _Slot, *, now: float) -> None:
        # Without its lock the subject starts again at generation 0: clear those counters
        # of this window too, and the ones this attempt counted in. A concurrent attempt of
        # the same person at the same source may find its slot forgotten; only someone who
        # just proved he knows the secrets can profit, and he has no need to guess.
        await self._cache.delete(f"signin:lock:{slot.subject}")
        window = int(now // self._window)
        for counters in {slot.counters, f"{slot.subject}:0:{window}"}:
            for kind in ("attempts", "released", "failures"):
                await self._cache.delete(f"signin:{kind}:{counters}")

    async def _count(self, key: str) -> int:
        value = await self._cache.get(key)
        return int(value) if value is not None and value.isdigit() else 0

    async def _lock(self, subject: str) -> _Lock | None:
        value = await self._cache.get(f"signin:lock:{subject}")
        if value is None:
            return None
        parts = value.split(" ")
        try:
            deadline, lockout = float(parts[0]), int(parts[1])
            generation = int(parts[2]) if len(parts) > 2 else 1
        except (ValueError, IndexError):
            return None  # not written by us; treat as no lock rather than fail
        return _Lock(deadline=deadline, lockout=lockout, generation=max(generation, 0))


def _person(username: str) -> str:
    return f"person:{_digest(username)}"


def _pair(username: str, source: Source) -> str:
    return f"pair:{_digest(username + chr(0) + source.subject)}"


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:32]


# --- request plumbing shared by the sign-in, TOTP and gate-pass endpoints -------------------


def client_address(request: Request, settings: IdentitySettings) -> str:
    """The client's address: the peer's, or the one a trusted proxy forwarded."""
    peer = request.client.host if request.client else "unknown"
    if not _is_trusted(peer, settings.trusted_proxies):
        return peer
    if settings.proxy_header == "forwarded":
        hops = _forwarded_for(request.headers.getlist("forwarded"))
    else:
        hops = _x_forwarded_for(request.headers.getlist("x-forwarded-for"))
    # Each proxy appends the address it saw: the nearest untrusted one is the client, and
    # whatever stands left of it was written by that client.
    for hop in reversed(hops):
        if not _is_trusted(hop, settings.trusted_proxies):
            return hop
    return hops[0] if hops else peer


def _is_trusted(host: str, proxies: Sequence[ProxyNetwork]) -> bool:
    if not proxies:
        return False
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False
    return any(ip.version == network.version and ip in network for network in proxies)


def _x_forwarded_for(values: Sequence[str]) -> list[str]:
    return [_node(hop) for value in values for hop in value.split(",") if hop.strip()]


def _forwarded_for(values: Sequence[str]) -> list[str]:
    """The `for=` nodes of RFC 7239 `Forwarded` fields, in order (a hop without one: "")."""
    hops = []
    for value in values:
        for element in value.split(","):
            node = ""
            for pair in element.split(";"):
                name, _, token = pair.strip().partition("=")
                if name.strip().lower() == "for":
                    node = _node(token)
            hops.append(node)
    return hops


def _node(token: str) -> str:
    """An address without quotes, brackets or port ("[2001:db8::1]:80" -> "2001:db8::1")."""
    node = token.strip().strip('"').strip()
    if node.startswith("["):
        return node[1:].partition("]")[0]
    if node.count(":") == 1:  # IPv4 with a port; a bare IPv6 address has more colons
        return node.partition(":")[0]
    return node


def limiter_for(settings: IdentitySettings, cache: Cache) -> SignInLimiter:
    """The limiter the settings describe."""
    return SignInLimiter(
        cache,
        per_person=settings.sign_in_failures_per_person,
        per_address=settings.sign_in_failures_per_address,
        per_kiosk=settings.sign_in_failures_per_kiosk,
        per_person_total=settings.sign_in_failures_per_person_total,
        window_seconds=settings.sign_in_failure_window_seconds,
    )
