"""Waking the rule runner: a publish on one cache channel, which reaches whichever process
runs the rules (through Redis in production). Apart from the runner so that code that only
records what the rules read (the access log) depends on nothing else of monitoring."""

from contextlib import suppress

from shared.cache import Cache

WAKE_CHANNEL = "monitoring:wake"


async def wake_runner(cache: Cache) -> None:
    """Ask the runners to look now (best effort: they look every poll anyway)."""
    with suppress(Exception):
        await cache.publish(WAKE_CHANNEL, "1")
