"""A small async cache: replay guards, counters, short-lived values and pub/sub.

Two implementations behind one ``Cache`` protocol: ``RedisCache`` for production and
``MemoryCache`` for the embedded, single-process mode (docs/design.md, Architecture). The
database stays the source of truth (invariant 6): these operations speed up and tighten checks, they
never decide one-time use on their own.

Every key and channel name is prefixed (``"<prefix>:<name>"``) so that services, and
test runs, can share one Redis without seeing each other's data.
"""

from __future__ import annotations

import asyncio
import heapq
import math
import re
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, Protocol

import redis.asyncio as redis
from redis.exceptions import RedisError, ResponseError

__all__ = ["Cache", "MemoryCache", "RedisCache", "cache_from_url"]


class Cache(Protocol):
    """What the services need from a cache; see RedisCache and MemoryCache."""

    async def set_if_absent(self, key: str, value: str, ttl_seconds: float) -> bool:
        """Store ``value`` for ``ttl_seconds`` unless ``key`` exists; True if this call did."""
        ...

    async def incr(self, key: str, ttl_seconds: float) -> int:
        """Add one to a counter; a new counter expires ``ttl_seconds`` after it was created."""
        ...

    async def get(self, key: str) -> str | None:
        """The value stored at ``key``, or None when absent or expired."""
        ...

    async def delete(self, key: str) -> None:
        """Remove ``key`` if present."""
        ...

    async def publish(self, channel: str, message: str) -> None:
        """Send ``message`` to the current subscribers of ``channel`` (best effort)."""
        ...

    def subscribe(self, channel: str) -> AbstractAsyncContextManager[AsyncIterator[str]]:
        """Subscribe to ``channel``; active as soon as the ``async with`` is entered."""
        ...

    async def ping(self) -> bool:
        """True when the cache can be reached."""
        ...

    async def close(self) -> None:
        """Release connections (Redis) or drop all data and end subscriptions (memory)."""
        ...


def cache_from_url(url: str | None, prefix: str) -> Cache:
    """A MemoryCache for None or "memory://", a RedisCache for redis://, rediss:// or unix://."""
    if url is None or url == "memory://":
        return MemoryCache(prefix)
    scheme = url.partition("://")[0].lower()
    if scheme in {"redis", "rediss", "unix"}:
        return RedisCache(url, prefix)
    # Only the scheme is echoed: the rest of a cache URL may hold a password.
    raise ValueError(
        f"unsupported cache URL scheme {scheme!r}; use memory://, redis:// or rediss://"
    )


def _ttl_milliseconds(ttl_seconds: float) -> int:
    # A zero, negative or infinite TTL would create keys that never expire or expire at
    # once; both are bugs in a replay cache, so refuse them loudly.
    if not math.isfinite(ttl_seconds) or ttl_seconds <= 0:
        raise ValueError("ttl_seconds must be a positive, finite number")
    return max(1, math.ceil(ttl_seconds * 1000))


def _prefixed(prefix: str, name: str) -> str:
    return f"{prefix}:{name}" if prefix else name


# --- Redis ------------------------------------------------------------------------------------

# INCR and the expiry in one atomic step: a crash or a lost connection between two
# separate commands would leave a counter that never expires. PTTL is -1 exactly when the
# key has no expiry, i.e. it was just created (or lost its TTL some other way); later
# increments leave the expiry alone, so traffic cannot stretch a rate-limit window.
_INCR_WITH_TTL = """
local count = redis.call('INCR', KEYS[1])
if redis.call('PTTL', KEYS[1]) == -1 then
    redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
return count
"""

# Bounds the wait for Redis to confirm SUBSCRIBE or UNSUBSCRIBE.
_PUBSUB_CONFIRM_SECONDS = 5.0


class RedisCache:
    """Cache over redis.asyncio; one connection pool per instance."""

    def __init__(self, url: str, prefix: str) -> None:
        if not prefix:
            raise ValueError("a RedisCache needs a prefix; Redis is shared between services")
        self._prefix = prefix
        # decode_responses: every value in this interface is text. The connect timeout
        # keeps ping() and health checks from hanging on an unreachable host.
        self._client = redis.Redis.from_url(url, decode_responses=True, socket_connect_timeout=5)
        self._incr = self._client.register_script(_INCR_WITH_TTL)

    def _name(self, name: str) -> str:
        return _prefixed(self._prefix, name)

    async def set_if_absent(self, key: str, value: str, ttl_seconds: float) -> bool:
        """Store ``value`` for ``ttl_seconds`` unless ``key`` exists (SET NX PX)."""
        stored = await self._client.set(
            self._name(key), value, nx=True, px=_ttl_milliseconds(ttl_seconds)
        )
        return bool(stored)

    async def incr(self, key: str, ttl_seconds: float) -> int:
        """Add one to a counter; a new counter expires ``ttl_seconds`` after it was created."""
        ttl_ms = _ttl_milliseconds(ttl_seconds)
        try:
            count = await self._incr(keys=[self._name(key)], args=[ttl_ms])
        except ResponseError as err:
            # Same contract as MemoryCache: a non-integer value is a caller error.
            raise ValueError(f"cannot increment {key!r}: {err}") from err
        return int(count)

    async def get(self, key: str) -> str | None:
        """The value stored at ``key``, or None."""
        value = await self._client.get(self._name(key))
        # decode_responses=True makes every reply a str; the stubs cannot know that.
        return None if value is None else str(value)

    async def delete(self, key: str) -> None:
        """Remove ``key`` if present."""
        await self._client.delete(self._name(key))

    async def publish(self, channel: str, message: str) -> None:
        """PUBLISH ``message`` on the prefixed ``channel``."""
        await self._client.publish(self._name(channel), message)

    @asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[AsyncIterator[str]]:
        """Subscribe to ``channel``; messages published after entering are delivered."""
        name = self._name(channel)
        pubsub = self._client.pubsub()
        try:
            await pubsub.subscribe(name)
            # SUBSCRIBE takes effect when Redis has processed it, not when it was sent;
            # waiting for the confirmation means a publish right after entering arrives.
            await _await_pubsub_event(pubsub, "subscribe")
            yield _RedisMessages(pubsub)
        finally:
            try:
                # Unsubscribing explicitly (not just dropping the connection) means the
                # server has forgotten us once we leave, which PUBSUB NUMSUB can show.
                await pubsub.unsubscribe(name)
                await _await_pubsub_event(pubsub, "unsubscribe")
            except (RedisError, OSError, TimeoutError):
                pass  # the connection is going away anyway; aclose() below ends it
            finally:
                await pubsub.aclose()

    async def ping(self) -> bool:
        """True when Redis answers PING."""
        try:
            return bool(await self._client.ping())
        except (RedisError, OSError):
            return False

    async def close(self) -> None:
        """Close the client and its connection pool."""
        await self._client.aclose()


async def _await_pubsub_event(pubsub: Any, kind: str) -> None:
    async with asyncio.timeout(_PUBSUB_CONFIRM_SECONDS):
        while True:
            event = await pubsub.get_message(timeout=None)
            if event is not None and event["type"] == kind:
                return


class _RedisMessages:
    """Async iterator over the data of "message" events of one PubSub."""

    def __init__(self, pubsub: Any) -> None:
        self._pubsub = pubsub

    def __aiter__(self) -> _RedisMessages:
        return self

    async def __anext__(self) -> str:
        while True:
            event = await self._pubsub.get_message(ignore_subscribe_messages=True, timeout=None)
            if event is not None and event["type"] == "message":
                data: str = event["data"]
                return data


# --- in-process ----------------------------------------------------------------------------

_INTEGER = re.compile(r"-?[0-9]+")
# A subscriber that stops reading must not make memory grow without bound; like Redis
# pub/sub, delivery is best effort, and the oldest undelivered messages go first.
_SUBSCRIBER_BUFFER = 1024
_END = None  # queued to end a subscription when the cache is closed


class MemoryCache:
    """In-process cache for one event loop; expiry by an injectable monotonic clock."""

    def __init__(self, prefix: str = "", *, clock: Callable[[], float] = time.monotonic) -> None:
        self._prefix = prefix
        self._clock = clock
        self._entries: dict[str, tuple[str, float]] = {}  # name -> (value, deadline)
        # Min-heap of (deadline, name): expired keys are purged lazily on each operation,
        # so memory is bounded by the live keys even if nobody reads the dead ones again.
        self._deadlines: list[tuple[float, str]] = []
        self._subscribers: dict[str, set[asyncio.Queue[str | None]]] = {}

    def __len__(self) -> int:
        """Number of live keys."""
        self._purge()
        return len(self._entries)

    def _name(self, name: str) -> str:
        return _prefixed(self._prefix, name)

    def _purge(self) -> float:
        now = self._clock()
        while self._deadlines and self._deadlines[0][0] <= now:
            deadline, name = heapq.heappop(self._deadlines)
            entry = self._entries.get(name)
            # A key rewritten since has a later deadline of its own in the heap.
            if entry is not None and entry[1] == deadline:
                del self._entries[name]
        return now

    def _compact(self) -> None:
        # Deleted keys leave their heap item behind until it falls due; rebuild when such
        # leftovers outnumber live keys so deletes cannot grow the heap without bound.
        if len(self._deadlines) > 2 * len(self._entries) + 64:
            self._deadlines = [(deadline, name) for name, (_, deadline) in self._entries.items()]
            heapq.heapify(self._deadlines)

    def _store(self, name: str, value: str, deadline: float) -> None:
        self._entries[name] = (value, deadline)
        heapq.heappush(self._deadlines, (deadline, name))

    # No await between reading and writing in the methods below: on one event loop each
    # operation is atomic, as SET NX and INCR are in Redis.

    async def set_if_absent(self, key: str, value: str, ttl_seconds: float) -> bool:
        """Store ``value`` for ``ttl_seconds`` unless ``key`` exists."""
        ttl_ms = _ttl_milliseconds(ttl_seconds)
        now = self._purge()
        name = self._name(key)
        if name in self._entries:
            return False
        self._store(name, value, now + ttl_ms / 1000)
        return True

    async def incr(self, key: str, ttl_seconds: float) -> int:
        """Add one to a counter; a new counter expires ``ttl_seconds`` after it was created."""
        ttl_ms = _ttl_milliseconds(ttl_seconds)
        now = self._purge()
        name = self._name(key)
        entry = self._entries.get(name)
        if entry is None:
            self._store(name, "1", now + ttl_ms / 1000)
            return 1
        value, deadline = entry
        if not _INTEGER.fullmatch(value):
            raise ValueError(f"cannot increment {key!r}: value is not an integer")
        count = int(value) + 1
        self._entries[name] = (str(count), deadline)  # same deadline: heap item still valid
        return count

    async def get(self, key: str) -> str | None:
        """The value stored at ``key``, or None."""
        self._purge()
        entry = self._entries.get(self._name(key))
        return None if entry is None else entry[0]

    async def delete(self, key: str) -> None:
        """Remove ``key`` if present."""
        self._purge()
        self._entries.pop(self._name(key), None)
        self._compact()

    async def publish(self, channel: str, message: str) -> None:
        """Queue ``message`` for every current subscriber of ``channel``."""
        for queue in self._subscribers.get(self._name(channel), ()):
            _offer(queue, message)

    @asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[AsyncIterator[str]]:
        """Subscribe to ``channel``; messages published after entering are delivered."""
        name = self._name(channel)
        queue: asyncio.Queue[str | None] = asyncio.Queue(maxsize=_SUBSCRIBER_BUFFER)
        self._subscribers.setdefault(name, set()).add(queue)
        try:
            yield _QueueMessages(queue)
        finally:
            subscribers = self._subscribers.get(name)
            if subscribers is not None:
                subscribers.discard(queue)
                if not subscribers:
                    del self._subscribers[name]

    async def ping(self) -> bool:
        """Always True: the cache lives in this process."""
        return True

    async def close(self) -> None:
        """Drop all keys and end every subscription."""
        self._entries.clear()
        self._deadlines.clear()
        for subscribers in self._subscribers.values():
            for queue in subscribers:
                _offer(queue, _END)

    def subscriber_count(self, channel: str) -> int:
        """Number of active subscriptions to ``channel`` (for tests and diagnostics)."""
        return len(self._subscribers.get(self._name(channel), ()))


def _offer(queue: asyncio.Queue[str | None], item: str | None) -> None:
    if queue.full():
        queue.get_nowait()
    queue.put_nowait(item)


class _QueueMessages:
    """Async iterator over one subscriber queue; ends when the cache is closed."""

    def __init__(self, queue: asyncio.Queue[str | None]) -> None:
        self._queue = queue

    def __aiter__(self) -> _QueueMessages:
        return self

    async def __anext__(self) -> str:
        item = await self._queue.get()
        if item is None:  # _END: the cache was closed
            raise StopAsyncIteration
        return item
