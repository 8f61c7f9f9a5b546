"""One process of the concurrent scheduler test: its own engine and connections, the same
ticks as its rivals at the same moments (run under `multiprocessing` with spawn)."""

import asyncio
from datetime import datetime
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier

from services.release.inspections.keys import DrawingKey
from services.release.settings import ReleaseSettings
from services.release.visits.scheduler import VisitScheduler
from shared.db import create_engine, session_factory


async def _tick_all(settings: ReleaseSettings, moments: list[datetime], barrier: Barrier) -> int:
    engine = create_engine(
        settings.database_url, schema=settings.database_schema, pool_size=2, pool_overflow=2
    )
    try:
        scheduler = VisitScheduler.of(
            session_factory(engine), DrawingKey(settings.inspection_vrf_seed()), settings
        )
        drawn = 0
        for moment in moments:
            await asyncio.to_thread(barrier.wait, 60)  # every process at the same tick
            drawn += (await scheduler.tick(moment)).drawn
        return drawn
    finally:
        await engine.dispose()


def tick_all(
    settings: ReleaseSettings, moments: list[datetime], barrier: Barrier, results: "Queue[int]"
) -> None:
    """Entry point of a worker process: put how many slots it drew on `results`."""
    results.put(asyncio.run(_tick_all(settings, moments, barrier)))
