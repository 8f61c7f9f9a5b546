"""The rule runner: rules judged as rows arrive in the followed logs, and on a schedule.

Each process of a service runs one (`start` in the app's lifespan, when the settings say
so). A look (`step`) reads, per source, the rows past the stored cursor (a batch at a time),
hands them to the rules listening to that source, raises what they find and moves the
cursor, all in one transaction: a look that fails changes nothing and is repeated. A sweep
(`sweep`) lets every rule judge its whole window, which catches what arrives late (on
PostgreSQL a transaction can commit after one with a higher id) and time-window rules.

Several processes may look at once: each alert has a dedup key (rule, subject, window),
unique in the database, so the same finding is raised once; the cursor is only a bookmark.
Between looks the runner waits `poll_seconds`, or less when a writer publishes on the
`monitoring:wake` channel of the service's cache.
"""

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AsyncExitStack, suppress
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import structlog
from fastapi import FastAPI
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.cache import Cache
from shared.db import SessionFactory, transaction
from shared.models import utcnow
from shared.monitoring import repository, stream
from shared.monitoring.endpoints import Monitoring
from shared.monitoring.rules import Arrived, Finding, RuleSet, RuleSettings
from shared.monitoring.service import raise_alert
from shared.monitoring.settings import MonitoringSettings
from shared.monitoring.sources import Source
from shared.monitoring.wake import WAKE_CHANNEL

logger = structlog.get_logger(__name__)


@dataclass
class LookReport:
    """What one look or sweep did."""

    rows: int = 0
    raised: int = 0


#: A service's own job that a sweep runs first, in its own transaction (the identity
#: service's integrity screening): whatever it appends to the audit log reaches the rules
#: as it arrives.
SweepJob = Callable[..., Awaitable[object]]


class AlertHook(Protocol):
    """Told of each alert a rule raised, in the look's transaction (the release service
    announces it to port security's webhook subscribers through its outbox)."""

    def __call__(
        self,
        session: AsyncSession,
        *,
        alert_id: uuid.UUID,
        kind: str,
        severity: str,
        summary: str,
        now: datetime,
    ) -> None: ...


class RuleRunner:
    """Judges a service's rules over its followed logs."""

    def __init__(
        self,
        sessions: SessionFactory,
        cache: Cache,
        rules: RuleSet,
        sources: Sequence[Source],
        *,
        poll_seconds: float,
        sweep_seconds: float,
        batch_size: int = 500,
        clock: Callable[[], datetime] = utcnow,
        sweep_jobs: Sequence[SweepJob] = (),
        on_raised: AlertHook | None = None,
    ) -> None:
        self._sessions = sessions
        self._on_raised = on_raised
        self._sweep_jobs = list(sweep_jobs)
        self._cache = cache
        self.rules = rules
        self.sources = list(sources)
        self.poll_seconds = poll_seconds
        self.sweep_seconds = sweep_seconds
        self.batch_size = batch_size
        self._clock = clock

    async def _settings(self, session: AsyncSession) -> list[RuleSettings]:
        stored = await repository.rule_settings(session)
        return [entry for entry in self.rules.effective(stored) if entry.enabled]

    async def step(self, now: datetime | None = None) -> LookReport:
        """Hand every row that arrived since the last look to its rules; raise what they find."""
        at = now or self._clock()
        report = LookReport()
        for source in self.sources:
            more = True
            while more:
                async with transaction(self._sessions) as session:
                    more = await self._look(session, source, report, at)
        if report.raised:
            await stream.wake(self._cache)
        return report

    async def _look(
        self, session: AsyncSession, source: Source, report: LookReport, at: datetime
    ) -> bool:
        """One batch of one source; True when a full batch was read (there may be more)."""
        position = await repository.cursor(session, source.name)
        if position is None:
            # The first look starts at the end: the sweep judges the windows before it.
            await repository.move_cursor(session, source.name, await source.newest(session), at)
            return False
        rows = await source.after(session, position, self.batch_size)
        if not rows:
            return False
        arrived = Arrived(source.name, rows)
        for entry in await self._settings(session):
            if source.name in entry.rule.sources:
                findings = await entry.rule.check(
                    session, entry.thresholds, arrived=arrived, now=at
                )
                report.raised += await _raise(session, entry, findings, at, self._on_raised)
        await repository.move_cursor(session, source.name, source.position_of(rows[-1]), at)
        report.rows += len(rows)
        return len(rows) == self.batch_size

    async def sweep(self, now: datetime | None = None) -> LookReport:
        """Run the service's sweep jobs, then let every enabled rule judge its whole window
        now."""
        at = now or self._clock()
        report = LookReport()
        for job in self._sweep_jobs:
            async with transaction(self._sessions) as session:
                await job(session=session, now=at)
        async with transaction(self._sessions) as session:
            for entry in await self._settings(session):
                findings = await entry.rule.check(session, entry.thresholds, arrived=None, now=at)
                report.raised += await _raise(session, entry, findings, at, self._on_raised)
        if report.raised:
            await stream.wake(self._cache)
        return report

    async def run(self) -> None:
        """Look at once, then whenever woken or every `poll_seconds`; sweep every
        `sweep_seconds`, until cancelled. Subscribed to the wake channel before the first
        look, so a wake published after it is never lost."""
        woken = asyncio.Event()
        woken.set()
        loop = asyncio.get_running_loop()
        next_sweep = loop.time()
        async with AsyncExitStack() as stack:
            try:
                messages = await stack.enter_async_context(self._cache.subscribe(WAKE_CHANNEL))
            except Exception:
                logger.warning("monitoring_wake_lost", exc_info=True)
                messages = None
            listener = asyncio.create_task(stream.listen(messages, woken))
            stack.push_async_callback(stream.stop_listening, listener)
            while True:
                # Not asyncio.wait_for: on Python 3.11 it can swallow a cancellation that
                # lands as the wait completes, and the app then never stops.
                with suppress(TimeoutError):
                    async with asyncio.timeout(self.poll_seconds):
                        await woken.wait()
                woken.clear()
                try:
                    await self.step()
                    if self.sweep_seconds > 0 and loop.time() >= next_sweep:
                        next_sweep = loop.time() + self.sweep_seconds
                        await self.sweep()
                except Exception:
                    # The database may be away for a while: the next look tries again.
                    logger.exception("monitoring_look_failed")


async def _raise(
    session: AsyncSession,
    entry: RuleSettings,
    findings: Sequence[Finding],
    now: datetime,
    on_raised: AlertHook | None,
) -> int:
    raised = 0
    for finding in findings:
        alert_id = await raise_alert(
            session,
            kind=entry.rule.kind,
            severity=finding.severity or entry.rule.severity,
            summary=finding.summary,
            facts=finding.facts,
            now=now,
            rule=entry.rule.name,
            subject=finding.subject,
            evidence=finding.evidence,
            dedup_key=finding.dedup_key,
        )
        if alert_id is not None:
            raised += 1
            if on_raised is not None:
                severity = finding.severity or entry.rule.severity
                on_raised(
                    session,
                    alert_id=alert_id,
                    kind=entry.rule.kind,
                    severity=severity,
                    summary=finding.summary,
                    now=now,
                )
            logger.info("monitoring_alert_raised", rule=entry.rule.name, alert_id=str(alert_id))
    return raised


def start_task(runner: RuleRunner) -> asyncio.Task[None]:
    """Run the runner in the background."""
    return asyncio.create_task(runner.run())


async def stop_task(task: asyncio.Task[None] | None) -> None:
    """Stop a background runner (between two looks: each is its own transaction)."""
    if task is not None:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task


def install(
    app: FastAPI,
    *,
    rules: RuleSet,
    sources: Sequence[Source],
    settings: MonitoringSettings,
    run: bool,
    sweep_jobs: Sequence[SweepJob] = (),
    on_raised: AlertHook | None = None,
) -> None:
    """Give the app its monitoring (rules, runner, stream settings); start the runner if
    `run` (a service's background work runs where its sequencer does, unless told)."""
    app.state.monitoring = Monitoring(
        rules,
        stream_poll_seconds=settings.monitoring_stream_poll_seconds,
        stream_heartbeat_seconds=settings.monitoring_stream_heartbeat_seconds,
        stream_max_seconds=settings.monitoring_stream_max_seconds,
    )
    runner = RuleRunner(
        app.state.sessions,
        app.state.cache,
        rules,
        sources,
        poll_seconds=settings.monitoring_poll_seconds,
        sweep_seconds=settings.monitoring_sweep_seconds,
        sweep_jobs=sweep_jobs,
        on_raised=on_raised,
    )
    app.state.rule_runner = runner
    app.state.rule_runner_task = start_task(runner) if run else None


async def uninstall(app: FastAPI) -> None:
    """Stop the app's runner."""
    await stop_task(getattr(app.state, "rule_runner_task", None))
