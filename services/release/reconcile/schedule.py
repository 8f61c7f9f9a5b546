"""The scheduled reconciliation: every `reconcile_interval_seconds` in the background.

Started in the app's lifespan (`start`) in the process that runs the audit sequencer
(`run_sequencer`), like the rest of the background work; an interval of 0 starts nothing.
Each round runs `service.run` as the service (`actor` `service:reconcile`); of several
replicas at the same moment on PostgreSQL one reconciles and the others skip the round (an
advisory lock), so a mismatch is alerted once. Each round also checks the access log's
rows of this month and the last against their seals (the whole log: `ketenpas reconcile`).
"""

import asyncio
from collections.abc import Awaitable, Callable
from contextlib import suppress
from datetime import timedelta

import structlog
from fastapi import FastAPI

from services.release.access.seals import month_of
from services.release.reconcile import service
from services.release.settings import ReleaseSettings
from shared.audit.service import AuditLog
from shared.db import SessionFactory
from shared.models import utcnow

logger = structlog.get_logger(__name__)
ACTOR = "service:reconcile"


class Reconciler:
    """Runs the reconciliation once (`run_once`) or every `interval` seconds (`run`)."""

    def __init__(
        self,
        read_sessions: SessionFactory,
        sessions: SessionFactory,
        log: AuditLog,
        *,
        interval: float,
        access_retention_months: int | None = None,
        wait: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.interval = interval
        self._access_retention_months = access_retention_months
        self._read_sessions = read_sessions
        self._sessions = sessions
        self._log = log
        self._wait = wait

    async def run_once(self) -> service.Outcome | None:
        """One reconciliation now; None when another process was doing it."""
        outcome = await service.run(
            self._read_sessions,
            self._sessions,
            log=self._log,
            actor=ACTOR,
            access_log=self._access_check(),
        )
        if outcome is not None:
            logger.info(
                "reconcile_done",
                differences=len(outcome.report.differences),
                pending_events=outcome.report.pending_events,
                releases=outcome.report.releases,
                alerted=outcome.alert_id is not None,
            )
        return outcome

    def _access_check(self) -> service.AccessLogCheck | None:
        """This month's and last month's access-log rows against their seals."""
        if self._access_retention_months is None:
            return None
        last_month = utcnow().replace(day=1) - timedelta(days=1)
        return service.AccessLogCheck(self._access_retention_months, month_of(last_month))

    async def run(self) -> None:
        """Wait an interval, reconcile, and again, until cancelled; a failure waits too."""
        while True:
            await self._wait(self.interval)
            try:
                await self.run_once()
            except Exception:
                # The database may be away for a while: the next round tries again.
                logger.exception("reconcile_failed")


def start(app: FastAPI, settings: ReleaseSettings) -> None:
    """Give the app its reconciler, running in the background unless the interval is 0."""
    reconciler = Reconciler(
        app.state.read_sessions,
        app.state.sessions,
        app.state.audit_log,
        interval=settings.reconcile_interval_seconds,
        access_retention_months=settings.access_log_retention_months,
    )
    app.state.reconciler = reconciler
    # Background work runs where the sequencer does (one process of a deployment's kind).
    run = settings.run_sequencer and settings.reconcile_interval_seconds > 0
    app.state.reconcile_task = asyncio.create_task(reconciler.run()) if run else None


async def stop(app: FastAPI) -> None:
    """Stop the background reconciliation (a round in progress is rolled back)."""
    task: asyncio.Task[None] | None = getattr(app.state, "reconcile_task", None)
    if task is not None:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task
