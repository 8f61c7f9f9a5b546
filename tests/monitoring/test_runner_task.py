"""The runner in the background: it looks at once, then again when woken through the cache."""

import asyncio
import uuid
from datetime import datetime

from shared.monitoring.runner import LookReport, RuleRunner, start_task, stop_task
from shared.monitoring.wake import wake_runner
from tests.monitoring.alerting import alerts, runner
from tests.release.port import Port


class Reporting(RuleRunner):
    """A runner that tells the test each look it took."""

    looks: "asyncio.Queue[LookReport]"

    async def step(self, now: datetime | None = None) -> LookReport:
        report = await super().step(now)
        self.looks.put_nowait(report)
        return report


async def test_a_woken_runner_raises_the_alert_without_waiting_for_its_poll(port: Port) -> None:
    app = port.release
    background = Reporting(
        app.state.sessions,
        app.state.cache,
        runner(app).rules,
        runner(app).sources,
        poll_seconds=3600,  # only a wake can bring the second look
        sweep_seconds=0,
    )
    background.looks = asyncio.Queue()
    task = start_task(background)
    try:
        # Bounds against a hang, not timing assertions.
        await asyncio.wait_for(background.looks.get(), 30)  # the first look, at start
        for _ in range(3):
            await port.client.get(f"/v1/releases/{uuid.uuid4()}", headers=port["sub"].headers)
        await wake_runner(app.state.cache)
        # The reads wake it too (access/service.py): the rows may come in one look or more.
        raised = rows = 0
        while raised == 0:
            report = await asyncio.wait_for(background.looks.get(), 30)
            raised, rows = raised + report.raised, rows + report.rows
        assert raised == 1
        assert rows >= 3
    finally:
        await stop_task(task)
    [alert] = await alerts(app, "out_of_scope_lookups")
    assert alert.subject == f"client:{port['sub'].id}"
