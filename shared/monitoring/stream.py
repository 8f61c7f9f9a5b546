"""Alerts as they happen, as server-sent events (`GET /v1/alerts/stream`).

The database is the source: each raise, acknowledgement and closure is a row of
`alert_changes`, and its id is the event's `id:`. A listener reads the changes past the
last id it sent, then waits until it is woken (a publish on the cache channel
`alerts:changed`, which reaches every process through Redis) or `poll_seconds` pass (an
alert raised by a service's own code commits with its request and is found by the next
poll), and reads again. A client that reconnects with `Last-Event-ID` gets what it missed.

On PostgreSQL a transaction may commit after one with a higher change id: a listener
remembers the ids it skipped over for `gap_seconds` and reads them again, so a late commit
is still sent (once); what commits later than that is on the list (`GET /v1/alerts`).

Each event:

    id: <change id>
    event: alert.raised | alert.acknowledged | alert.closed
    data: {"change_id": <id>, "change": "<event>", "at": "<time>", "alert": <AlertView>}

a comment line (`: keepalive`) every `heartbeat_seconds` of silence, so proxies keep the
connection open, and first `retry: 2000`. A stream ends after `max_seconds` (and when asked,
after `max_events` or `idle` seconds without an event); EventSource reconnects by itself with
`Last-Event-ID`, so an ended stream loses nothing and no connection lives for ever.
"""

import asyncio
import json
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from contextlib import AsyncExitStack, suppress
from dataclasses import dataclass

import structlog

from shared.cache import Cache
from shared.db import SessionFactory, transaction
from shared.monitoring import repository
from shared.monitoring.schemas import AlertView

logger = structlog.get_logger(__name__)

CHANNEL = "alerts:changed"
#: What a client waits before reconnecting (the stream's first line tells EventSource).
RETRY_MILLISECONDS = 2000
MAX_GAPS = 1000


async def wake(cache: Cache) -> None:
    """Wake every listener now (after the change committed; best effort)."""
    with suppress(Exception):
        await cache.publish(CHANNEL, "1")


@dataclass(frozen=True)
class StreamLimits:
    """When a stream ends by itself (None: it does not), and how often it looks."""

    max_events: int | None = None
    idle_seconds: float | None = None
    poll_seconds: float = 2.0
    heartbeat_seconds: float = 15.0
    gap_seconds: float = 30.0
    max_seconds: float = 900.0  # then the stream ends; EventSource reconnects on its own


def format_event(change_id: int, change: str, payload: dict[str, object]) -> str:
    """One server-sent event (data on one line: JSON never holds a raw newline)."""
    data = json.dumps(payload, separators=(",", ":"))
    return f"id: {change_id}\nevent: {change}\ndata: {data}\n\n"


async def newest_change(sessions: SessionFactory) -> int:
    """The id of the latest change (0 when none): where a stream without a start begins."""
    async with transaction(sessions) as session:
        return await repository.newest_change_id(session)


async def alert_events(
    sessions: SessionFactory,
    cache: Cache,
    *,
    after: int,
    limits: StreamLimits,
    clock: Callable[[], float] = time.monotonic,
) -> AsyncGenerator[str]:
    """The stream's text, event by event, from the change after `after` on."""
    woken = asyncio.Event()
    woken.set()  # read once at once
    async with AsyncExitStack() as stack:
        # Subscribed before the first read: a change committed after that read wakes us.
        try:
            messages = await stack.enter_async_context(cache.subscribe(CHANNEL))
        except Exception:
            logger.warning("alert_stream_wake_lost", exc_info=True)
            messages = None
        listener = asyncio.create_task(listen(messages, woken))
        stack.push_async_callback(stop_listening, listener)
        async for text in _events(sessions, woken, after=after, limits=limits, clock=clock):
            yield text


async def _events(
    sessions: SessionFactory,
    woken: asyncio.Event,
    *,
    after: int,
    limits: StreamLimits,
    clock: Callable[[], float],
) -> AsyncIterator[str]:
    """Read and send changes whenever woken or a poll is due; see the module docstring."""
    sent = 0
    last = after
    gaps: dict[int, float] = {}
    quiet_since = spoke_at = started = clock()
    yield f"retry: {RETRY_MILLISECONDS}\n\n"
    while limits.max_events is None or sent < limits.max_events:
        if woken.is_set():
            woken.clear()
            async with transaction(sessions) as session:
                found = await repository.changes_after(session, last, also=list(gaps))
            now = clock()
            for change, alert in found:
                change_id = change.id or 0
                if change_id in gaps:
                    del gaps[change_id]
                else:
                    for missing in range(last + 1, change_id):
                        if len(gaps) < MAX_GAPS:
                            gaps[missing] = now
                    last = max(last, change_id)
                payload = {
                    "change_id": change_id,
                    "change": change.change,
                    "at": change.at.isoformat(),
                    "alert": AlertView.of(alert).model_dump(mode="json"),
                }
                yield format_event(change_id, change.change, payload)
                sent += 1
                quiet_since = spoke_at = now
                if limits.max_events is not None and sent >= limits.max_events:
                    return
            for missing, seen in list(gaps.items()):
                if now - seen > limits.gap_seconds:
                    del gaps[missing]
        idle = clock() - quiet_since
        if limits.idle_seconds is not None and idle >= limits.idle_seconds:
            return
        left = limits.max_seconds - (clock() - started)
        if left <= 0:
            return
        wait = min(limits.poll_seconds, limits.heartbeat_seconds, left)
        if limits.idle_seconds is not None:
            wait = min(wait, limits.idle_seconds - idle)
        try:
            async with asyncio.timeout(max(wait, 0.0)):  # not wait_for: see runner.py
                await woken.wait()
        except TimeoutError:
            woken.set()  # poll: look again anyway
            if clock() - spoke_at >= limits.heartbeat_seconds:
                yield ": keepalive\n\n"
                spoke_at = clock()


async def listen(messages: AsyncIterator[str] | None, woken: asyncio.Event) -> None:
    """Set `woken` on every message; without the cache (None) the caller only polls."""
    if messages is None:
        return
    try:
        async for _ in messages:
            woken.set()
    except asyncio.CancelledError:
        raise
    except Exception:
        logger.warning("alert_stream_wake_lost", exc_info=True)


async def stop_listening(task: asyncio.Task[None]) -> None:
    """End a `listen` task."""
    task.cancel()
    with suppress(asyncio.CancelledError):
        await task
