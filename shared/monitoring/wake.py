"""Waking the rule runner: a publish on one cache channel, which reaches whichever process
runs the rules (through Redis in production). Apart from the runner so that code that only
records what the rules read (the access log, the identity service's `security.read`
events) depends on nothing else of monitoring."""

import time
from contextlib import suppress

from shared.cache import Cache
from shared.request_scope import current_app_state

WAKE_CHANNEL = "monitoring:wake"
#: A burst of reads wakes the rule runner once: at most this often per process.
WAKE_SPACING_SECONDS = 0.25


async def wake_runner(cache: Cache) -> None:
    """Ask the runners to look now (best effort: they look every poll anyway)."""
    with suppress(Exception):
        await cache.publish(WAKE_CHANNEL, "1")


async def wake_after_read() -> None:
    """A read was recorded while handling a request: wake the runners through the app's
    cache, at most once every `WAKE_SPACING_SECONDS` per process (nothing outside a
    request)."""
    state = current_app_state()
    if state is None:
        return
    moment = time.monotonic()
    if moment - getattr(state, "rules_woken_at", float("-inf")) < WAKE_SPACING_SECONDS:
        return
    state.rules_woken_at = moment
    await wake_runner(state.cache)
