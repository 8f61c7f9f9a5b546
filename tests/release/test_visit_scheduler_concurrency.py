"""Each visit slot is drawn exactly once, however many schedulers look at the same moment:
several in one process with their own engines, and several processes, on the same database."""

import asyncio
import multiprocessing
from collections import Counter
from datetime import timedelta

from sqlmodel import col, select

from services.release.inspections.keys import DrawingKey
from services.release.inspections.models import Draw, Purpose
from services.release.settings import ReleaseSettings
from services.release.visits.models import VisitSlot
from services.release.visits.scheduler import VisitScheduler
from shared.db import create_engine, session_factory, transaction
from tests.release.port import Port, audit_types
from tests.release.visit_scheduler_worker import tick_all
from tests.release.visits import SLOT, make_site, now_slot, slots

SCHEDULERS = 4
PROCESSES = 3
LEAD = timedelta(seconds=600)


async def assert_each_slot_drawn_once(port: Port, expected: int) -> None:
    claimed = await slots(port)
    assert len(claimed) == expected
    keys = Counter((slot.site_id, slot.slot_start) for slot in claimed)
    assert max(keys.values()) == 1
    assert all(slot.draw_id is not None for slot in claimed)
    async with transaction(port.release.state.sessions) as session:
        draws = (await session.exec(select(Draw).where(col(Draw.purpose) == Purpose.visit))).all()
    assert sorted(str(d.id) for d in draws) == sorted(str(s.draw_id) for s in claimed)
    subjects = Counter(draw.alpha.split('"subject":', 1)[1] for draw in draws)
    assert max(subjects.values()) == 1  # no slot drawn twice, even in a lost transaction
    assert (await audit_types(port.release)).count("visit.slot_drawn") == expected


async def test_several_schedulers_with_their_own_engines_draw_each_slot_once(port: Port) -> None:
    start = now_slot(port) - timedelta(hours=1)
    await make_site(port, rate=6.0, since=start, name="Gate lanes")
    await make_site(port, rate=12.0, since=start, name="Auction hall")
    settings: ReleaseSettings = port.release.state.settings
    engines = [
        create_engine(settings.database_url, schema=settings.database_schema)
        for _ in range(SCHEDULERS)
    ]
    try:
        schedulers = [
            VisitScheduler.of(
                session_factory(engine), DrawingKey(settings.inspection_vrf_seed()), settings
            )
            for engine in engines
        ]
        drawn = 0
        for tick in range(8):
            moment = start - LEAD + SLOT * tick
            reports = await asyncio.gather(*(s.tick(moment) for s in schedulers))
            drawn += sum(report.drawn for report in reports)
    finally:
        for engine in engines:
            await engine.dispose()
    expected = 2 * 8  # two sites; the first tick draws the first slot, each one the next
    assert drawn == expected
    await assert_each_slot_drawn_once(port, expected)


async def test_several_processes_draw_each_slot_once(port: Port) -> None:
    start = now_slot(port) - timedelta(hours=1)
    await make_site(port, rate=6.0, since=start)
    moments = [start - LEAD + SLOT * tick for tick in range(4)]
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(PROCESSES)
    results = context.Queue()
    workers = [
        context.Process(
            target=tick_all, args=(port.release.state.settings, moments, barrier, results)
        )
        for _ in range(PROCESSES)
    ]
    for worker in workers:
        worker.start()
    drawn = [await asyncio.to_thread(results.get, True, 120) for _ in workers]
    for worker in workers:
        await asyncio.to_thread(worker.join, 30)
        assert worker.exitcode == 0
    expected = len(moments)
    assert sum(drawn) == expected
    await assert_each_slot_drawn_once(port, expected)
    async with transaction(port.release.state.sessions) as session:
        last = (
            await session.exec(select(VisitSlot).order_by(col(VisitSlot.slot_start).desc()))
        ).first()
    assert last is not None and last.slot_start == moments[-1] + LEAD
