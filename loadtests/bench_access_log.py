"""Sealing and verifying the access log (issue 14), on SQLite and PostgreSQL.

For each backend a freshly migrated release database (a temporary SQLite file, or a schema
`kp_bench_<random>_access` in the test database, dropped at the end) gets `--rows` reads of
the access log, bulk-inserted as the service writes them; then `seals.seal_all` is timed
(every row committed to `access_log.sealed` events, 5,000 rows a transaction), and then
`verify.verify_access_log` (every seal recomputed from its rows). It must find no problem.

    .venv/bin/python -m loadtests.bench_access_log [--rows 100000] [--backend sqlite|postgres|all]
"""

import argparse
import asyncio
import os
import tempfile
import time
import uuid

import asyncpg
from sqlalchemy import insert

from services.registry import SERVICES
from services.release.access.models import AccessLogEntry
from services.release.access.seals import seal_all
from services.release.access.verify import verify_access_log
from shared.db import create_engine, session_factory, table_of, transaction
from shared.migrate import upgrade
from shared.models import utcnow

POSTGRES_URL = os.environ.get(
    "KETENPAS_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


def reads(count: int) -> list[dict[str, object]]:
    """Reads of one container by many people, as `access.service` writes them."""
    return [
        {
            "at": utcnow(),
            "actor": f"person:{uuid.uuid4()}",
            "party_id": "EU.EORI.NL100000001",
            "person_id": uuid.uuid4(),
            "action": "release.read",
            "release_id": uuid.uuid4(),
            "container": "KPTU1000007",
            "outcome": "shown",
            "results": 1,
            "endpoint": "GET /v1/releases/{release_id}",
        }
        for _ in range(count)
    ]


async def measure(name: str, url: str, schema: str | None, rows: int) -> None:
    """Seed, seal and verify one database; print the figures."""
    settings = (
        SERVICES["release"]
        .settings()
        .model_copy(update={"database_url": url, "database_schema": schema})
    )
    await upgrade(settings, SERVICES["release"].migrations)
    engine = create_engine(url, schema=schema)
    sessions = session_factory(engine)
    try:
        seeded = reads(rows)
        for start in range(0, rows, 5000):
            async with transaction(sessions) as session:
                connection = await session.connection()
                await connection.execute(
                    insert(table_of(AccessLogEntry)), seeded[start : start + 5000]
                )
        began = time.perf_counter()
        seals = await seal_all(sessions)
        sealing = time.perf_counter() - began
        began = time.perf_counter()
        async with transaction(sessions) as session:
            problems = await verify_access_log(session)
        verifying = time.perf_counter() - began
    finally:
        await engine.dispose()
    if problems:
        raise SystemExit(f"{name}: the verifier found {problems[0]}")
    print(
        f"{name}: {rows} rows sealed in {sealing:.2f} s ({rows / sealing:,.0f} rows/s,"
        f" {len(seals)} seals), verified in {verifying:.2f} s ({rows / verifying:,.0f} rows/s)"
    )


async def on_postgres(rows: int) -> None:
    """The PostgreSQL run, in a schema of its own."""
    schema = f"kp_bench_{uuid.uuid4().hex[:8]}_access"
    try:
        await measure("postgresql", POSTGRES_URL, schema, rows)
    finally:
        connection = await asyncpg.connect(POSTGRES_URL)
        try:
            await connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            await connection.close()


def main() -> None:
    """Parse the arguments and run the chosen backends."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "all"], default="all")
    args = parser.parse_args()
    if args.backend in ("sqlite", "all"):
        with tempfile.TemporaryDirectory() as folder:
            url = f"sqlite:///{folder}/release.sqlite3"
            asyncio.run(measure("sqlite", url, None, args.rows))
    if args.backend in ("postgres", "all"):
        asyncio.run(on_postgres(args.rows))


if __name__ == "__main__":
    main()
