"""The slot scheduler: draws each site's slots just in time, once across processes.

Every process of the release service runs one (`start` in the app's lifespan); each looks
every `visit_tick_seconds` and, for every site, draws the slots from the one after its
latest claimed slot up to the last that starts within `visit_lead_seconds` from now: never
a slot whose drawing moment has not come. Each slot is claimed and drawn in a transaction
of its own (`service.draw_slot`); of several processes looking at once, one claims it and
the others find it taken and go on, so each slot has exactly one draw.

Slots missed while every process was down are drawn late when one comes back, flagged
`late`, at most `visit_catch_up_slots` per look: a visit still running is dispatched; one
already over is recorded missed (`drawn_too_late`) with an alert. They are not skipped:
every slot of a site's period keeps exactly one draw, which is what the verifier checks.
A late draw is no risk: it cites a checkpoint from after its slot began, so it tells
nobody anything in advance.
"""

import asyncio
from collections.abc import Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import structlog
from fastapi import FastAPI

from services.release.inspections.keys import DrawingKey
from services.release.settings import ReleaseSettings
from services.release.visits import repository, service
from shared.db import SessionFactory, transaction
from shared.models import utcnow

logger = structlog.get_logger(__name__)


@dataclass
class TickReport:
    """What one look did (counts only: never which slot got a visit)."""

    drawn: int = 0
    taken: int = 0  # claimed by another process first
    late: int = 0
    unreported: int = 0


class VisitScheduler:
    """Draws due slots on `tick(now)`; `run` ticks every `tick_seconds` until cancelled."""

    def __init__(
        self,
        sessions: SessionFactory,
        key: DrawingKey,
        *,
        lead_seconds: int,
        tick_seconds: float,
        report_grace_seconds: int,
        catch_up_slots: int,
        zone: ZoneInfo,
        wait: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._sessions = sessions
        self._key = key
        self.lead = timedelta(seconds=lead_seconds)
        self.tick_seconds = tick_seconds
        self.report_grace_seconds = report_grace_seconds
        self.catch_up_slots = catch_up_slots
        self.zone = zone
        self._wait = wait

    @classmethod
    def of(
        cls, sessions: SessionFactory, key: DrawingKey, settings: ReleaseSettings
    ) -> "VisitScheduler":
        """A scheduler as the settings say."""
        return cls(
            sessions,
            key,
            lead_seconds=settings.visit_lead_seconds,
            tick_seconds=settings.visit_tick_seconds,
            report_grace_seconds=settings.visit_report_grace_seconds,
            catch_up_slots=settings.visit_catch_up_slots,
            zone=ZoneInfo(settings.port_timezone),
        )

    async def tick(self, now: datetime) -> TickReport:
        """Draw every slot whose drawing moment has come by `now` and is not drawn yet."""
        report = TickReport()
        async with transaction(self._sessions) as session:
            plan = await repository.sites_with_last_slot(session)
        budget = self.catch_up_slots
        horizon = now + self.lead
        for site, last in plan:
            step = timedelta(seconds=site.slot_seconds)
            slot_start = site.slots_from if last is None else last + step
            while budget > 0 and slot_start <= horizon:
                if site.slots_until is not None and slot_start >= site.slots_until:
                    break
                budget -= 1
                async with transaction(self._sessions) as session:
                    drawn = await service.draw_slot(
                        session,
                        key=self._key,
                        site=site,
                        slot_start=slot_start,
                        zone=self.zone,
                        now=now,
                    )
                if drawn is None:
                    report.taken += 1
                else:
                    report.drawn += 1
                    report.late += drawn.late
                slot_start += step
        async with transaction(self._sessions) as session:
            report.unreported = await service.close_unreported(
                session, grace_seconds=self.report_grace_seconds, now=now
            )
        return report

    async def run(self) -> None:
        """Wait a tick, look, and again, until cancelled; a failure waits too."""
        while True:
            await self._wait(self.tick_seconds)
            try:
                report = await self.tick(utcnow())
            except Exception:
                # The database or the log's checkpoint may be away: the next look catches up.
                logger.exception("visit_tick_failed")
                continue
            if report.drawn or report.unreported:
                logger.info(
                    "visit_slots_drawn",
                    drawn=report.drawn,
                    taken=report.taken,
                    late=report.late,
                    unreported=report.unreported,
                )


def start(app: FastAPI, settings: ReleaseSettings) -> None:
    """Give the app its scheduler, running in the background unless the tick is 0."""
    scheduler = VisitScheduler.of(app.state.sessions, app.state.drawing_key, settings)
    app.state.visit_scheduler = scheduler
    run = settings.visit_tick_seconds > 0
    app.state.visit_task = asyncio.create_task(scheduler.run()) if run else None


async def stop(app: FastAPI) -> None:
    """Stop the app's scheduler (between two slots: each is its own transaction)."""
    task: asyncio.Task[None] | None = getattr(app.state, "visit_task", None)
    if task is not None:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task
