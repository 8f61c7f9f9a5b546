"""The alert stream: server-sent events of raises and lifecycle changes, resumable by id."""

import asyncio
import json
from typing import Any

from shared.monitoring.stream import StreamLimits, alert_events, newest_change, wake
from tests.monitoring.alerting import raise_one
from tests.release.port import Port


def parse(text: str) -> list[dict[str, Any]]:
    """The events of a stream's text (comments left out)."""
    found = []
    for block in text.strip().split("\n\n"):
        fields = dict(
            line.split(": ", 1) for line in block.split("\n") if line and not line.startswith(":")
        )
        if "data" in fields:
            found.append({**fields, "data": json.loads(fields["data"])})
    return found


async def test_the_stream_sends_raises_and_changes_in_order_with_ids(port: Port) -> None:
    first = await raise_one(port.release)
    second = await raise_one(port.release, kind="other")
    officer = await port.person_headers("security", "officer")
    await port.client.post(f"/v1/alerts/{first}/acknowledge", headers=officer)

    response = await port.client.get(
        "/v1/alerts/stream", params={"after": 0, "idle": 0}, headers=officer
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    sent = parse(response.text)
    assert [(e["event"], e["data"]["alert"]["alert_id"]) for e in sent] == [
        ("alert.raised", str(first)),
        ("alert.raised", str(second)),
        ("alert.acknowledged", str(first)),
    ]
    ids = [int(e["id"]) for e in sent]
    assert ids == sorted(ids) and len(set(ids)) == 3
    assert [e["data"]["change_id"] for e in sent] == ids
    assert sent[2]["data"]["alert"]["status"] == "acknowledged"


async def test_last_event_id_resumes_after_what_was_received(port: Port) -> None:
    await raise_one(port.release)
    later = await raise_one(port.release)
    officer = await port.person_headers("security", "officer")
    everything = parse(
        (
            await port.client.get(
                "/v1/alerts/stream", params={"after": 0, "idle": 0}, headers=officer
            )
        ).text
    )
    resumed = await port.client.get(
        "/v1/alerts/stream",
        params={"idle": 0},
        headers={**officer, "Last-Event-ID": everything[0]["id"]},
    )
    assert [e["data"]["alert"]["alert_id"] for e in parse(resumed.text)] == [str(later)]


async def test_max_events_ends_the_stream(port: Port) -> None:
    for _ in range(3):
        await raise_one(port.release)
    officer = await port.person_headers("security", "officer")
    response = await port.client.get(
        "/v1/alerts/stream", params={"after": 0, "max_events": 2}, headers=officer
    )
    assert len(parse(response.text)) == 2


async def test_without_a_start_the_stream_sends_only_what_comes_next(port: Port) -> None:
    await raise_one(port.release)
    officer = await port.person_headers("security", "officer")
    response = await port.client.get("/v1/alerts/stream", params={"idle": 0}, headers=officer)
    assert parse(response.text) == []
    assert response.text.startswith("retry: 2000\n\n")


async def test_a_stream_ends_by_itself_after_its_longest_time(port: Port) -> None:
    """No connection lives for ever: EventSource reconnects with the last id it saw."""
    ticks = iter(range(0, 10**9, 1000))
    events = alert_events(
        port.release.state.read_sessions,
        port.release.state.cache,
        after=0,
        limits=StreamLimits(max_seconds=10, poll_seconds=3600, heartbeat_seconds=3600),
        clock=lambda: float(next(ticks)),
    )
    assert [text async for text in events] == ["retry: 2000\n\n"]


async def test_a_bad_last_event_id_is_refused(port: Port) -> None:
    officer = await port.person_headers("security", "officer")
    response = await port.client.get(
        "/v1/alerts/stream", params={"idle": 0}, headers={**officer, "Last-Event-ID": "x1"}
    )
    assert response.status_code == 422
    assert response.json()["code"] == "last_event_id_invalid"


async def test_a_waiting_listener_is_woken_by_a_new_alert(port: Port) -> None:
    """After its read the generator waits, its poll an hour away: only the wake that follows
    the new alert's commit can bring it (were the wake lost, the bound below would fail)."""
    sessions = port.release.state.read_sessions
    start = await newest_change(sessions)
    earlier = await raise_one(port.release)
    events = alert_events(
        sessions,
        port.release.state.cache,
        after=start,
        limits=StreamLimits(max_events=2, poll_seconds=3600, heartbeat_seconds=3600),
    )
    assert await anext(events) == "retry: 2000\n\n"
    [first] = parse(await anext(events))  # the first read is done, before the next raise
    assert first["data"]["alert"]["alert_id"] == str(earlier)

    async def next_event() -> str:
        return await anext(events)

    waiting = asyncio.create_task(next_event())
    alert_id = await raise_one(port.release)
    await wake(port.release.state.cache)
    # A bound against a hang, not a timing assertion: the wake makes it immediate.
    [event] = parse(await asyncio.wait_for(waiting, 30))
    assert event["data"]["alert"]["alert_id"] == str(alert_id)
    await events.aclose()
