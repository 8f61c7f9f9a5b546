"""Alert latency under gate load: from a look-up the rules must notice to its alert on port
security's stream (`bench_gate --watch-alerts`).

While a rate step runs, port security's client follows `GET /v1/alerts/stream` of the
release service, and every `interval` seconds one of the port's API clients (a different
one each time, so that each probe is its own alert) looks up a release that is not its
own: the service answers 404 and records the refused read in its access log, and the
`out_of_scope_lookups` rule (its threshold set to one look-up a minute for the run, in the
database as port security would set it) raises a high alert. The latency is the time from
sending the look-up to the alert arriving on the stream: the access log's commit, the rule
runner's next look (every `monitoring_poll_seconds`, 2 s by default, unless woken), the
alert's commit and the stream's next read (woken through the cache, or every 2 s).
"""

import asyncio
import json
import math
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import httpx

from services.release.monitoring.rules import release_rules
from services.release.settings import ReleaseSettings
from shared.db import create_engine, session_factory, transaction
from shared.monitoring.service import change_rule

RULE = "out_of_scope_lookups"
# A probe whose alert has not come within this many seconds counts as missed.
MISSED_AFTER_SECONDS = 20.0


@dataclass
class AlertLatency:
    """The probes of one step and how long each alert took to reach the stream."""

    probes: int = 0
    seconds: list[float] = field(default_factory=list)

    @property
    def missed(self) -> int:
        """Probes whose alert never came within `MISSED_AFTER_SECONDS`."""
        return self.probes - len(self.seconds)

    def quantile(self, q: float) -> float:
        """The q-quantile of the latencies in milliseconds (nearest rank), NaN if none."""
        if not self.seconds:
            return math.nan
        ordered = sorted(self.seconds)
        rank = min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))
        return ordered[rank] * 1000


async def one_lookup_a_minute(settings: ReleaseSettings) -> None:
    """Set the rule to alert on a single refused look-up per subject and minute."""
    engine = create_engine(settings.database_url, schema=settings.database_schema)
    try:
        async with transaction(session_factory(engine)) as session:
            await change_rule(
                session,
                rules=release_rules(ZoneInfo(settings.port_timezone)),
                name=RULE,
                enabled=True,
                thresholds={"count": 1, "window_seconds": 60},
                actor="bench:alert-latency",
                now=datetime.now(UTC),
            )
    finally:
        await engine.dispose()


async def watch(
    release_url: str,
    security_token: str,
    probers: Sequence[tuple[str, str]],
    *,
    seconds: float,
    interval: float = 3.0,
) -> AlertLatency:
    """Probe every `interval` seconds for `seconds`, with `probers` (party id, token) in
    turn, and time each probe's alert on the stream."""
    result = AlertLatency()
    sent: dict[str, float] = {}  # subject -> when its probe was sent
    arrived: asyncio.Queue[str] = asyncio.Queue()
    opened = asyncio.Event()

    async def follow(client: httpx.AsyncClient) -> None:
        headers = {"Authorization": f"Bearer {security_token}", "Accept": "text/event-stream"}
        async with client.stream("GET", "/v1/alerts/stream", headers=headers) as response:
            response.raise_for_status()
            opened.set()
            async for line in response.aiter_lines():
                if not line.startswith("data: "):
                    continue
                change = json.loads(line.removeprefix("data: "))
                alert = change.get("alert", {})
                subject = alert.get("subject")
                raised = change.get("change") == "alert.raised" and alert.get("rule") == RULE
                if raised and subject in sent:
                    result.seconds.append(time.monotonic() - sent.pop(subject))
                    await arrived.put(subject)

    timeout = httpx.Timeout(10.0, read=None)
    async with httpx.AsyncClient(base_url=release_url, timeout=timeout) as client:
        follower = asyncio.create_task(follow(client))
        try:
            await asyncio.wait_for(opened.wait(), timeout=10)
            ends = time.monotonic() + seconds
            turn = 0
            while time.monotonic() < ends and turn < len(probers):
                party_id, token = probers[turn]
                turn += 1
                sent[f"client:{party_id}"] = time.monotonic()
                result.probes += 1
                answer = await client.get(
                    f"/v1/releases/{uuid.uuid4()}", headers={"Authorization": f"Bearer {token}"}
                )
                if answer.status_code != 404:
                    raise RuntimeError(f"a probe was answered {answer.status_code}, not 404")
                await asyncio.sleep(interval)  # the probes' own pace, not a wait for a result
            waited_until = time.monotonic() + MISSED_AFTER_SECONDS
            while sent and time.monotonic() < waited_until:
                try:
                    await asyncio.wait_for(arrived.get(), timeout=waited_until - time.monotonic())
                except TimeoutError:
                    break
        finally:
            follower.cancel()
            await asyncio.gather(follower, return_exceptions=True)
    return result
