"""shared.cache: the same behaviour from MemoryCache and RedisCache, plus each one's expiry.

The Redis case runs when KETENPAS_TEST_BACKEND=postgres (the production-like suite), against
KETENPAS_TEST_REDIS_URL (default redis://127.0.0.1:6379). There an unreachable Redis fails
the tests instead of skipping them, so a broken CI service cannot pass silently.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import pytest
import redis.asyncio as redis
from redis.exceptions import RedisError

from shared.cache import Cache, MemoryCache, RedisCache, cache_from_url

REDIS_URL = os.environ.get("KETENPAS_TEST_REDIS_URL", "redis://127.0.0.1:6379")
WITH_REDIS = os.environ.get("KETENPAS_TEST_BACKEND") == "postgres"
DELIVERY_TIMEOUT = 5.0  # an upper bound for a hung test, never a timing assertion


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Backend:
    name: str
    cache: Cache
    prefix: str
    subscribers: Callable[[str], Awaitable[int]]


@pytest.fixture(params=["memory", "redis"])
async def backend(request: pytest.FixtureRequest) -> AsyncIterator[Backend]:
    prefix = f"ketenpas-test-{secrets.token_hex(8)}"
    if request.param == "memory":
        memory = MemoryCache(prefix)

        async def memory_subscribers(channel: str) -> int:
            return memory.subscriber_count(channel)

        yield Backend("memory", memory, prefix, memory_subscribers)
        await memory.close()
        return

    if not WITH_REDIS:
        pytest.skip("Redis runs with KETENPAS_TEST_BACKEND=postgres")
    async with reachable_redis() as raw:
        cache = RedisCache(REDIS_URL, prefix)

        async def redis_subscribers(channel: str) -> int:
            counts = await raw.pubsub_numsub(f"{prefix}:{channel}")
            return int(counts[0][1])

        try:
            yield Backend("redis", cache, prefix, redis_subscribers)
        finally:
            await cache.close()
            await delete_prefixed(raw, prefix)


@asynccontextmanager
async def reachable_redis() -> AsyncIterator[redis.Redis]:
    """A raw client for checks and clean-up; fails (never skips) when Redis is down."""
    async with redis.Redis.from_url(REDIS_URL, decode_responses=True) as raw:
        try:
            await raw.ping()
        except (RedisError, OSError) as err:
            pytest.fail(
                f"KETENPAS_TEST_BACKEND=postgres but Redis at {REDIS_URL} is unreachable: {err}"
            )
        yield raw


async def delete_prefixed(raw: redis.Redis, prefix: str) -> None:
    keys = [key async for key in raw.scan_iter(match=f"{prefix}:*")]
    if keys:
        await raw.delete(*keys)


@pytest.fixture
async def raw_redis() -> AsyncIterator[redis.Redis]:
    if not WITH_REDIS:
        pytest.skip("Redis runs with KETENPAS_TEST_BACKEND=postgres")
    async with reachable_redis() as raw:
        yield raw


# --- the shared contract ----------------------------------------------------------------------


async def test_set_if_absent_succeeds_exactly_once_under_50_concurrent_attempts(
    backend: Backend,
) -> None:
    attempts = [backend.cache.set_if_absent("jti:abc", f"v{i}", 60) for i in range(50)]
    results = await asyncio.gather(*attempts)
    assert results.count(True) == 1
    winner = results.index(True)
    assert await backend.cache.get("jti:abc") == f"v{winner}"


async def test_set_if_absent_keeps_the_first_value(backend: Backend) -> None:
    assert await backend.cache.set_if_absent("k", "first", 60)
    assert not await backend.cache.set_if_absent("k", "second", 60)
    assert await backend.cache.get("k") == "first"


async def test_get_of_a_missing_key_is_none(backend: Backend) -> None:
    assert await backend.cache.get("missing") is None


async def test_delete_removes_a_key_and_tolerates_missing_ones(backend: Backend) -> None:
    await backend.cache.set_if_absent("k", "v", 60)
    await backend.cache.delete("k")
    await backend.cache.delete("never-there")
    assert await backend.cache.get("k") is None
    assert await backend.cache.set_if_absent("k", "again", 60)


async def test_incr_counts_from_one(backend: Backend) -> None:
    assert [await backend.cache.incr("hits", 60) for _ in range(3)] == [1, 2, 3]
    assert await backend.cache.get("hits") == "3"


async def test_concurrent_increments_are_not_lost(backend: Backend) -> None:
    results = await asyncio.gather(*(backend.cache.incr("hits", 60) for _ in range(50)))
    assert sorted(results) == list(range(1, 51))


async def test_incr_of_a_non_integer_value_is_refused(backend: Backend) -> None:
    await backend.cache.set_if_absent("k", "abc", 60)
    with pytest.raises(ValueError):
        await backend.cache.incr("k", 60)


@pytest.mark.parametrize("ttl", [0, -1, float("inf"), float("nan")])
async def test_ttl_must_be_positive_and_finite(backend: Backend, ttl: float) -> None:
    with pytest.raises(ValueError):
        await backend.cache.set_if_absent("k", "v", ttl)
    with pytest.raises(ValueError):
        await backend.cache.incr("c", ttl)
    assert await backend.cache.get("k") is None


async def test_publish_reaches_a_subscriber(backend: Backend) -> None:
    ready = asyncio.Event()
    received: list[str] = []

    async def listen() -> None:
        async with backend.cache.subscribe("gate-events") as messages:
            ready.set()
            async for message in messages:
                received.append(message)
                return

    listener = asyncio.create_task(listen())
    async with asyncio.timeout(DELIVERY_TIMEOUT):
        await ready.wait()
        await backend.cache.publish("gate-events", "release:r-1")
        await listener
    assert received == ["release:r-1"]


async def test_subscriber_sees_only_its_channel_in_order(backend: Backend) -> None:
    ready = asyncio.Event()
    received: list[str] = []

    async def listen() -> None:
        async with backend.cache.subscribe("a") as messages:
            ready.set()
            async for message in messages:
                received.append(message)
                if message == "stop":
                    return

    listener = asyncio.create_task(listen())
    async with asyncio.timeout(DELIVERY_TIMEOUT):
        await ready.wait()
        for channel, message in [("a", "1"), ("b", "x"), ("a", "2"), ("a", "stop")]:
            await backend.cache.publish(channel, message)
        await listener
    assert received == ["1", "2", "stop"]


async def test_subscription_is_removed_on_exit(backend: Backend) -> None:
    async with backend.cache.subscribe("events"):
        assert await backend.subscribers("events") == 1
    assert await backend.subscribers("events") == 0


async def test_publish_without_subscribers_is_harmless(backend: Backend) -> None:
    await backend.cache.publish("nobody-listens", "hello")


async def test_ping(backend: Backend) -> None:
    assert await backend.cache.ping()


# --- MemoryCache: expiry on an injected clock -----------------------------------------------


async def test_memory_key_lives_exactly_its_ttl() -> None:
    clock = FakeClock()
    cache = MemoryCache("t", clock=clock)
    assert await cache.set_if_absent("jti", "1", 10)
    clock.advance(9.999)
    assert await cache.get("jti") == "1"
    assert not await cache.set_if_absent("jti", "2", 10)
    clock.advance(0.001)
    assert await cache.get("jti") is None
    assert await cache.set_if_absent("jti", "3", 10)


async def test_memory_counter_expiry_is_set_when_created_not_on_each_increment() -> None:
    clock = FakeClock()
    cache = MemoryCache("t", clock=clock)
    assert await cache.incr("hits", 10) == 1
    clock.advance(6)
    assert await cache.incr("hits", 10) == 2  # does not push the window to t=16
    clock.advance(4)
    assert await cache.get("hits") is None
    assert await cache.incr("hits", 10) == 1


async def test_memory_expired_keys_are_purged_without_being_read() -> None:
    clock = FakeClock()
    cache = MemoryCache("t", clock=clock)
    for i in range(1000):
        await cache.set_if_absent(f"jti:{i}", "1", 1)
    assert len(cache) == 1000
    clock.advance(2)
    await cache.set_if_absent("live", "1", 60)
    assert len(cache) == 1


async def test_memory_deletes_do_not_grow_bookkeeping_without_bound() -> None:
    cache = MemoryCache("t", clock=FakeClock())
    for i in range(10_000):
        await cache.set_if_absent(f"k{i}", "v", 3600)
        await cache.delete(f"k{i}")
    assert len(cache) == 0
    # White-box: the expiry heap is the only structure that could outlive deletes.
    assert len(cache._deadlines) < 200


async def test_memory_rewritten_key_keeps_its_new_deadline() -> None:
    clock = FakeClock()
    cache = MemoryCache("t", clock=clock)
    await cache.set_if_absent("k", "old", 5)
    await cache.delete("k")
    await cache.set_if_absent("k", "new", 60)
    clock.advance(5)  # the old deadline passes; the new key must survive it
    assert await cache.get("k") == "new"


async def test_memory_close_ends_subscriptions() -> None:
    cache = MemoryCache("t")
    ready = asyncio.Event()

    async def listen() -> list[str]:
        async with cache.subscribe("c") as messages:
            ready.set()
            return [message async for message in messages]

    listener = asyncio.create_task(listen())
    async with asyncio.timeout(DELIVERY_TIMEOUT):
        await ready.wait()
        await cache.publish("c", "last")
        await cache.close()
        assert await listener == ["last"]


async def test_memory_slow_subscriber_keeps_only_the_newest_messages() -> None:
    cache = MemoryCache("t")
    async with cache.subscribe("c") as messages:
        for i in range(5000):
            await cache.publish("c", str(i))
        first = await anext(aiter(messages))
    assert 0 < int(first) < 5000  # the oldest were dropped, memory stayed bounded
    await cache.close()


# --- RedisCache: the TTL Redis stores, read with PTTL (no waiting) --------------------------


async def test_redis_set_if_absent_stores_the_ttl(raw_redis: redis.Redis) -> None:
    prefix = f"ketenpas-test-{secrets.token_hex(8)}"
    cache = RedisCache(REDIS_URL, prefix)
    try:
        assert await cache.set_if_absent("jti", "1", 0.25)
        assert 0 < await raw_redis.pttl(f"{prefix}:jti") <= 250
    finally:
        await cache.close()
        await delete_prefixed(raw_redis, prefix)


async def test_redis_counter_ttl_is_set_once_at_creation(raw_redis: redis.Redis) -> None:
    prefix = f"ketenpas-test-{secrets.token_hex(8)}"
    cache = RedisCache(REDIS_URL, prefix)
    try:
        assert await cache.incr("hits", 60) == 1
        first = await raw_redis.pttl(f"{prefix}:hits")
        assert 0 < first <= 60_000
        assert await cache.incr("hits", 3600) == 2
        assert 0 < await raw_redis.pttl(f"{prefix}:hits") <= first
    finally:
        await cache.close()
        await delete_prefixed(raw_redis, prefix)


async def test_redis_counter_without_expiry_gets_one(raw_redis: redis.Redis) -> None:
    # A counter left without a TTL (written by hand, or by an older release) is healed.
    prefix = f"ketenpas-test-{secrets.token_hex(8)}"
    cache = RedisCache(REDIS_URL, prefix)
    try:
        await raw_redis.set(f"{prefix}:hits", "5")
        assert await cache.incr("hits", 30) == 6
        assert 0 < await raw_redis.pttl(f"{prefix}:hits") <= 30_000
    finally:
        await cache.close()
        await delete_prefixed(raw_redis, prefix)


async def test_redis_keys_carry_the_prefix(raw_redis: redis.Redis) -> None:
    prefix = f"ketenpas-test-{secrets.token_hex(8)}"
    cache = RedisCache(REDIS_URL, prefix)
    other = RedisCache(REDIS_URL, f"{prefix}-other")
    try:
        await cache.set_if_absent("k", "v", 60)
        assert await raw_redis.get(f"{prefix}:k") == "v"
        assert await other.get("k") is None
        assert await other.set_if_absent("k", "w", 60)
    finally:
        await cache.close()
        await other.close()
        await delete_prefixed(raw_redis, prefix)
        await delete_prefixed(raw_redis, f"{prefix}-other")


# --- construction and reachability (no server needed) ---------------------------------------


async def test_unreachable_redis_pings_false() -> None:
    cache = RedisCache("redis://127.0.0.1:1", "t")  # nothing listens on port 1
    try:
        assert not await cache.ping()
    finally:
        await cache.close()


def test_redis_cache_needs_a_prefix() -> None:
    with pytest.raises(ValueError):
        RedisCache("redis://127.0.0.1:6379", "")


@pytest.mark.parametrize("url", [None, "memory://"])
async def test_cache_from_url_gives_memory(url: str | None) -> None:
    cache = cache_from_url(url, "t")
    assert isinstance(cache, MemoryCache)
    await cache.close()


@pytest.mark.parametrize("url", ["redis://127.0.0.1:6379/0", "rediss://cache.example:6380"])
async def test_cache_from_url_gives_redis(url: str) -> None:
    cache = cache_from_url(url, "t")
    assert isinstance(cache, RedisCache)
    await cache.close()


def test_cache_from_url_refuses_other_schemes_without_echoing_secrets() -> None:
    with pytest.raises(ValueError) as caught:
        cache_from_url("http://user:hunter2@cache.example", "t")
    assert "hunter2" not in str(caught.value)
