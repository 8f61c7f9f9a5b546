"""The access log's background task: seal, make next months' partitions, purge past retention.

It runs in each process that runs the audit sequencer (`run_sequencer`), every
`access_log_seal_interval_seconds` and once more when the app stops, so that the reads of the
last moments are sealed too. Replicas may all run it: each round takes the sealer's lock, and
a replica that finds it taken does nothing that round.

Retention is kept here rather than by the generic housekeeping chores: a purge must be
recorded in the audit log and must not run beside a seal, which the sealer's lock gives.
"""

import asyncio
from collections.abc import Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime

import structlog
from fastapi import FastAPI

from services.release.access import retention, seals
from services.release.settings import ReleaseSettings
from shared.db import SessionFactory, transaction
from shared.models import utcnow

logger = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Round:
    """What one round did."""

    sealed: int
    made: tuple[str, ...]
    purged: retention.Purge | None


class AccessLogKeeper:
    """Seals the access log and keeps its months, on a rhythm or once."""

    def __init__(
        self,
        sessions: SessionFactory,
        settings: ReleaseSettings,
        *,
        wait: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._sessions = sessions
        self._settings = settings
        self._wait = wait

    async def run_once(self, now: datetime | None = None) -> Round:
        """Seal what is committed, make the partitions ahead, purge what is past retention."""
        at = now or utcnow()
        sealed = await seals.seal_all(self._sessions)
        async with transaction(self._sessions) as session:
            made = await retention.maintain(
                session, now=at, months_ahead=self._settings.access_log_partitions_ahead
            )
        async with transaction(self._sessions) as session:
            purged = await retention.purge(
                session, now=at, retention_months=self._settings.access_log_retention_months
            )
        done = Round(sum(seal.count for seal in sealed), tuple(made), purged)
        logger.info(
            "access_log_kept",
            sealed=done.sealed,
            partitions_made=list(done.made),
            purged_rows=purged.rows if purged else 0,
        )
        return done

    async def run(self) -> None:
        """Wait an interval, keep, again, until cancelled; a failed round waits too."""
        while True:
            await self._wait(self._settings.access_log_seal_interval_seconds)
            try:
                await self.run_once()
            except Exception:
                logger.exception("access_log_keeping_failed")


def start(app: FastAPI, settings: ReleaseSettings) -> None:
    """Give the app its keeper, running in the background where the sequencer runs."""
    keeper = AccessLogKeeper(app.state.sessions, settings)
    app.state.access_log_keeper = keeper
    run = settings.run_sequencer and settings.access_log_seal_interval_seconds > 0
    app.state.access_log_task = asyncio.create_task(keeper.run()) if run else None


async def stop(app: FastAPI) -> None:
    """Stop the keeper and seal what the last moments logged."""
    task: asyncio.Task[None] | None = getattr(app.state, "access_log_task", None)
    if task is None:
        return
    task.cancel()
    with suppress(asyncio.CancelledError):
        await task
    try:
        await seals.seal_all(app.state.sessions)
    except Exception:
        # The database may be gone already: the next process seals these rows.
        logger.exception("access_log_final_seal_failed")
