"""Pooled PostgreSQL connections the server closed are replaced before use, with no ping.

`shared.db.create_engine` no longer asks the server at each checkout (`pool_pre_ping`: three
round trips before every transaction); it asks the driver whether the connection is closed.
These tests close the pool's connections from the server's side, as a restart or a failover
does, and check that every checkout then works on a fresh connection; and that without the
check the same situation fails (so the check is what does it).
"""

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from shared import db
from shared.db import create_engine, warm_pool
from tests.backends import POSTGRES_URL

pytestmark = pytest.mark.postgres

POOL_SIZE = 3


@pytest.fixture
async def engine() -> AsyncIterator[AsyncEngine]:
    engine = create_engine(POSTGRES_URL, pool_size=POOL_SIZE, pool_overflow=0)
    yield engine
    await engine.dispose()


async def _alive(admin: asyncpg.Connection, pids: list[int]) -> list[int]:
    rows = await admin.fetch("SELECT pid FROM pg_stat_activity WHERE pid = ANY($1)", pids)
    return [row["pid"] for row in rows]


async def _server_closes_the_pool(pool: "Checked") -> None:
    """Terminate the pool's server sessions (exactly these, no other test's); return once
    the driver has seen every close."""
    pids = list(pool)
    admin = await asyncpg.connect(POSTGRES_URL)
    try:
        assert len(await _alive(admin, pids)) == POOL_SIZE
        for pid in pids:
            await admin.execute("SELECT pg_terminate_backend($1)", pid)
        for _ in range(500):  # bounded: a terminated backend is gone within milliseconds
            if not await _alive(admin, pids):
                break
            await asyncio.sleep(0.01)  # polling the server for a condition, not timing
        assert not await _alive(admin, pids)
    finally:
        await admin.close()
    for _ in range(500):  # the event loop hands each socket's end of stream to the driver
        if all(driver.is_closed() for driver in pool.values()):
            break
        await asyncio.sleep(0.01)


Checked = dict[int, Any]  # server pid -> the driver's connection


async def _checkouts(engine: AsyncEngine) -> Checked:
    """One statement on each of the pool's connections at once: their server pids."""
    checked: Checked = {}
    async with engine.connect() as a, engine.connect() as b, engine.connect() as c:
        for connection in (a, b, c):
            pid = (await connection.execute(text("SELECT pg_backend_pid()"))).scalar_one()
            checked[pid] = (await connection.get_raw_connection()).driver_connection
    return checked


async def test_connections_closed_by_the_server_are_replaced_at_checkout(
    engine: AsyncEngine,
) -> None:
    assert await warm_pool(engine) == POOL_SIZE
    before = await _checkouts(engine)
    opened: list[object] = []
    event.listen(engine.sync_engine, "connect", lambda *_: opened.append(1))

    await _server_closes_the_pool(before)

    after = await _checkouts(engine)
    assert len(opened) == POOL_SIZE
    assert not set(before) & set(after)


async def test_without_the_check_a_closed_connection_fails_its_first_statement(
    engine: AsyncEngine,
) -> None:
    event.remove(engine.sync_engine, "checkout", db._discard_if_closed)
    await _server_closes_the_pool(await _checkouts(engine))

    with pytest.raises(DBAPIError):
        await _checkouts(engine)
