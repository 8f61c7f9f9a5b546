"""Helpers of the access-log tests: rows written as a read would, seals, the verifier."""

import uuid
from datetime import datetime, timedelta

from fastapi import FastAPI
from sqlalchemy import insert, text

from services.release.access.models import AccessLogEntry
from services.release.access.seals import Seal, seal_all
from services.release.access.verify import AccessLogProblem, verify_access_log
from shared.db import table_of, transaction
from shared.models import utcnow


def row(at: datetime | None = None, **fields: object) -> dict[str, object]:
    """The columns of one read of a container by a person of a terminal."""
    values: dict[str, object] = {
        "at": at or utcnow(),
        "actor": f"person:{uuid.uuid4()}",
        "party_id": "EU.EORI.NL000000001",
        "person_id": uuid.uuid4(),
        "action": "release.read",
        "release_id": uuid.uuid4(),
        "container": "KPTU1000007",
        "outcome": "shown",
        "results": 1,
        "endpoint": "GET /v1/releases/{release_id}",
    }
    values.update(fields)
    return values


async def add_rows(app: FastAPI, *rows: dict[str, object]) -> None:
    """Insert rows as the service does (ids from the table's sequence)."""
    async with transaction(app.state.sessions) as session:
        for values in rows:
            await (await session.connection()).execute(
                insert(table_of(AccessLogEntry)).values(**values)
            )


async def dba(app: FastAPI, sql: str, **params: object) -> None:
    """Change the table behind the service's back, as a database administrator could."""
    async with transaction(app.state.sessions) as session:
        await (await session.connection()).execute(text(sql), params)


async def seal(app: FastAPI) -> list[Seal]:
    """Seal everything committed now."""
    return await seal_all(app.state.sessions)


async def problems(
    app: FastAPI, *, late: timedelta = timedelta(minutes=10), retention: int | None = None
) -> list[AccessLogProblem]:
    """What the verifier finds."""
    async with transaction(app.state.sessions) as session:
        return await verify_access_log(session, late_margin=late, retention_months=retention)


async def ids(app: FastAPI) -> list[int]:
    """The ids of the rows, lowest first."""
    async with transaction(app.state.sessions) as session:
        result = await (await session.connection()).execute(
            text("SELECT id FROM access_log ORDER BY id")
        )
        return [int(value) for value in result.scalars()]
