"""r0012 turns the access log into a sealed (and on PostgreSQL partitioned) table without
losing a row or an id, and back."""

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest
from alembic import command
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.registry import SERVICES
from shared.db import create_engine
from shared.migrate import alembic_config
from tests.backends import POSTGRES_URL
from tests.conftest import ON_POSTGRES

BEFORE = "release_0011_monitoring"
OLD_ROW = (
    "INSERT INTO access_log (id, at, actor, party_id, person_id, action, release_id, container,"
    " outcome, results) VALUES (:id, :at, 'person:x', 'EU.EORI.NL1', NULL, 'release.read',"
    " NULL, 'KPTU1000007', 'shown', 1)"
)


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    """An empty database of its own (a schema on PostgreSQL, a file on SQLite)."""
    if not ON_POSTGRES:
        engine = create_engine(f"sqlite:///{tmp_path / 'release.sqlite3'}")
        yield engine
        await engine.dispose()
        return
    schema = f"kp_test_migration_{uuid.uuid4().hex[:8]}"
    engine = create_engine(POSTGRES_URL, schema=schema)
    async with engine.begin() as conn:
        await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield engine
    finally:
        await engine.dispose()
        connection = await asyncpg.connect(POSTGRES_URL)
        try:
            await connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            await connection.close()


async def migrate(engine: AsyncEngine, revision: str, *, down: bool = False) -> None:
    config = alembic_config(SERVICES["release"].migrations)

    def run(connection: Connection) -> None:
        config.attributes["connection"] = connection
        (command.downgrade if down else command.upgrade)(config, revision)

    async with engine.begin() as conn:
        await conn.run_sync(run)


async def rows(engine: AsyncEngine) -> list[tuple[int, datetime]]:
    async with engine.begin() as conn:
        result = await conn.execute(text("SELECT id, at FROM access_log ORDER BY id"))
        return [(int(row_id), at) for row_id, at in result]


async def test_the_rows_and_their_ids_survive_the_upgrade_and_the_downgrade(
    engine: AsyncEngine,
) -> None:
    await migrate(engine, BEFORE)
    old = datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC)
    async with engine.begin() as conn:
        for row_id in (1, 2, 7):
            await conn.execute(text(OLD_ROW), {"id": row_id, "at": old})
        if ON_POSTGRES:
            await conn.execute(text("SELECT setval(pg_get_serial_sequence('access_log', 'id'), 7)"))
    await migrate(engine, "head")
    assert [row_id for row_id, _ in await rows(engine)] == [1, 2, 7]
    async with engine.begin() as conn:
        inserted = await conn.execute(
            text(
                "INSERT INTO access_log (at, actor, party_id, action, outcome, results, endpoint)"
                " VALUES (:at, 'person:y', 'EU.EORI.NL2', 'release.read', 'shown', 1,"
                " 'GET /v1/releases/{release_id}') RETURNING id"
            ),
            {"at": datetime.now(UTC)},
        )
        assert inserted.scalar_one() == 8, "ids go on from the same sequence"
        if ON_POSTGRES:
            kind = await conn.execute(
                text("SELECT relkind::text FROM pg_class WHERE oid = 'access_log'::regclass")
            )
            assert kind.scalar_one() == "p", "partitioned"
            where = await conn.execute(
                text("SELECT tableoid::regclass::text FROM access_log WHERE id = 1")
            )
            # The oldest row's month got its partition.
            assert str(where.scalar_one()).endswith("access_log_y2025m03")
    await migrate(engine, BEFORE, down=True)
    assert [row_id for row_id, _ in await rows(engine)] == [1, 2, 7, 8]
