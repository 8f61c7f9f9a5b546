"""A recorded read wakes the monitoring rules at once (through the cache, to whichever
process runs them), rather than leaving it to the runner's next poll."""

import asyncio
import uuid

import pytest

from shared.monitoring import wake
from shared.monitoring.wake import WAKE_CHANNEL
from tests.release.port import Port


async def test_a_refused_look_up_wakes_the_rules(port: Port) -> None:
    cache = port.release.state.cache
    async with cache.subscribe(WAKE_CHANNEL) as messages:
        answer = await port.client.get(
            f"/v1/releases/{uuid.uuid4()}", headers=port["carrier"].headers
        )
        assert answer.status_code == 404
        # Bounded: the wake is published before the answer is sent.
        assert await asyncio.wait_for(anext(aiter(messages)), timeout=5) == "1"


async def test_a_burst_of_reads_wakes_the_rules_once(
    port: Port, monkeypatch: pytest.MonkeyPatch
) -> None:
    # However slow this machine, the burst lies within one spacing.
    monkeypatch.setattr(wake, "WAKE_SPACING_SECONDS", 3600.0)
    cache = port.release.state.cache
    async with cache.subscribe(WAKE_CHANNEL) as messages:
        for _ in range(5):
            answer = await port.client.get(
                f"/v1/releases/{uuid.uuid4()}", headers=port["carrier"].headers
            )
            assert answer.status_code == 404
        # One wake for the burst; the marker published after it arrives next, not a second
        # wake (channel messages keep their order).
        await cache.publish(WAKE_CHANNEL, "marker")
        first = await asyncio.wait_for(anext(aiter(messages)), timeout=5)
        second = await asyncio.wait_for(anext(aiter(messages)), timeout=5)
    assert (first, second) == ("1", "marker")
