"""Several processes appending and sequencing at once still make one gapless log.

On PostgreSQL the advisory lock is what keeps two sequencers apart; on SQLite, the write
lock that every writing transaction takes.
"""

import asyncio
import multiprocessing

from sqlmodel import col, select

from services.release.settings import ReleaseSettings
from shared.audit import repository as repo
from shared.audit.events import append
from shared.audit.models import AuditEvent
from shared.audit.sequencer import drain, step
from shared.audit.service import AuditLog
from shared.db import create_engine, session_factory, transaction
from shared.tlog import merkle
from tests.conftest import SettingsFactory

WRITERS = 4
EVENTS_PER_WRITER = 150


def _log() -> AuditLog:
    settings = ReleaseSettings()
    return AuditLog(origin=settings.log_origin, private_key=settings.log_private_key())


async def _write(database_url: str, schema: str | None, writer: int) -> int:
    engine = create_engine(database_url, schema=schema)
    sessions = session_factory(engine)
    log = _log()
    steps_that_ran = 0
    try:
        for number in range(EVENTS_PER_WRITER):
            async with transaction(sessions) as session:
                await append(session, "test.event", {"writer": writer, "n": number})
            if number % 10 == 0:
                # Every writer also tries to sequence: the lock must let one in at a time.
                result = await step(
                    sessions, signer=log.signer, origin=log.origin, batch_size=50, sign=True
                )
                steps_that_ran += result.locked
    finally:
        await engine.dispose()
    return steps_that_ran


def writer_process(database_url: str, schema: str | None, writer: int) -> int:
    """One process: append events one transaction at a time, sequencing now and then."""
    return asyncio.run(_write(database_url, schema, writer))


def _run_writers(database_url: str, schema: str | None) -> list[int]:
    context = multiprocessing.get_context("spawn")
    with context.Pool(WRITERS) as pool:
        return pool.starmap(
            writer_process, [(database_url, schema, writer) for writer in range(WRITERS)]
        )


async def test_concurrent_appends_from_several_processes_give_one_gapless_log(
    make_settings: SettingsFactory,
) -> None:
    settings = make_settings("release")
    steps = await asyncio.to_thread(_run_writers, settings.database_url, settings.database_schema)
    assert sum(steps) > 0
    engine = create_engine(settings.database_url, schema=settings.database_schema)
    sessions = session_factory(engine)
    log = _log()
    try:
        size = await drain(sessions, signer=log.signer, origin=log.origin)
        async with sessions() as session:
            rows = (
                await session.exec(select(AuditEvent).order_by(col(AuditEvent.log_index)))
            ).all()
            _, root = await repo.load_state(session)
            latest = await repo.latest_checkpoint(session)
    finally:
        await engine.dispose()
    total = WRITERS * EVENTS_PER_WRITER
    assert size == total
    assert [row.log_index for row in rows] == list(range(total))
    per_writer = {
        w: sorted(r.event for r in rows if f'"writer":{w}' in r.event) for w in range(WRITERS)
    }
    assert all(len(events) == EVENTS_PER_WRITER for events in per_writer.values())
    assert root == merkle.root_from_leaf_hashes(
        [merkle.leaf_hash(bytes(r.commitment)) for r in rows]
    )
    assert latest is not None and latest.size == total and bytes(latest.root_hash) == root
