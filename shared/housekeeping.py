"""Housekeeping: the chores that keep a service's one-time-use tables from growing for ever.

A chore deletes rows that can no longer matter (a spent gate pass or client assertion past
its expiry, which could not be presented again anyway) and says how many it deleted. A
service names its chores; its app runs them every `housekeeping_interval_seconds` in the
background (started in the lifespan beside the sequencer; 0 turns it off), and
`ketenpas housekeeping purge` runs them once.

Each chore runs in a transaction of its own. No lock is needed: a chore only deletes what
is past its expiry, so two replicas or workers doing the same chore at once do no harm (the
second finds nothing left), and a row still live is never touched.
"""

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Protocol

import structlog
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.db import SessionFactory, transaction
from shared.models import utcnow

logger = structlog.get_logger(__name__)


class Chore(Protocol):
    """Delete what is past its use at `now`, in the caller's transaction; how many rows."""

    def __call__(self, *, session: AsyncSession, now: datetime) -> Awaitable[int]: ...


class Housekeeper:
    """Runs a service's chores: once (`run_once`), or every `interval` seconds (`run`)."""

    def __init__(
        self,
        sessions: SessionFactory,
        chores: Mapping[str, Chore],
        *,
        interval: float,
        wait: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.chores = dict(chores)
        self.interval = interval
        self._sessions = sessions
        self._wait = wait

    @property
    def scheduled(self) -> bool:
        """Whether `run` has anything to do (a chore, and a positive interval)."""
        return bool(self.chores) and self.interval > 0

    async def run_once(self, now: datetime | None = None) -> dict[str, int]:
        """Run every chore now, each in its own transaction; rows deleted, by chore."""
        at = now or utcnow()
        deleted: dict[str, int] = {}
        for name, chore in self.chores.items():
            async with transaction(self._sessions) as session:
                deleted[name] = await chore(session=session, now=at)
            logger.info("housekeeping_done", chore=name, deleted=deleted[name])
        return deleted

    async def run(self) -> None:
        """Wait an interval, run the chores, and again, until cancelled; a failure waits too."""
        while True:
            await self._wait(self.interval)
            try:
                await self.run_once()
            except Exception:
                # The database may be away for a while: the next round tries again.
                logger.exception("housekeeping_failed")
