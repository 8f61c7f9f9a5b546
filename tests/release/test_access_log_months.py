"""The access log's months: retention by month (both backends), partitions on PostgreSQL."""

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlmodel import col, select

from services.registry import SERVICES
from services.release.access import retention
from services.release.access.keeper import AccessLogKeeper
from shared.audit.events import append
from shared.audit.models import AuditEvent
from shared.db import create_engine, session_factory, transaction
from shared.models import utcnow
from tests.conftest import SettingsFactory, running
from tests.release.access_logs import add_rows, ids, problems, row, seal

App = tuple[FastAPI, httpx.AsyncClient]
# Months no test run has partitions for: one ahead (made), one long past (made and purged; a
# purge "now" drops every older month, so it must stay older than the migration's partitions).
FAR = datetime(2031, 5, 10, 12, 0, tzinfo=UTC)
OLD = datetime(2001, 5, 10, 12, 0, tzinfo=UTC)


def months_ago(months: int) -> datetime:
    return retention.add_months(retention.month_start(utcnow()), -months) + timedelta(days=3)


async def purged_events(app: FastAPI) -> list[dict[str, object]]:
    async with transaction(app.state.sessions) as session:
        result = await session.exec(
            select(AuditEvent.event).where(col(AuditEvent.event_type) == "access_log.purged")
        )
        return [json.loads(value) for value in result.all()]


async def test_months_past_retention_are_purged_and_the_rest_still_verifies(
    release_app: App,
) -> None:
    app, _ = release_app
    await add_rows(app, row(months_ago(30)), row(months_ago(25)), row(months_ago(24)), row())
    await seal(app)
    kept = (await ids(app))[2:]
    async with transaction(app.state.sessions) as session:
        done = await retention.purge(session, now=utcnow(), retention_months=24)
    assert done is not None
    assert done.rows == 2
    assert await ids(app) == kept
    [event] = await purged_events(app)
    assert event["up_to_month"] == months_ago(25).strftime("%Y-%m")
    # The seals of the purged months are skipped, not reported as rows gone.
    assert await problems(app, late=timedelta(days=3650), retention=24) == []
    async with transaction(app.state.sessions) as session:
        assert await retention.purge(session, now=utcnow(), retention_months=24) is None


async def test_a_purge_of_months_within_the_retention_is_reported(release_app: App) -> None:
    app, _ = release_app
    await add_rows(app, row())
    await seal(app)
    # A database administrator's "purge" of this month, to hide its rows.
    async with transaction(app.state.sessions) as session:
        await append(session, "access_log.purged", {"up_to_month": utcnow().strftime("%Y-%m")})
    [found] = await problems(app, retention=24)
    assert found.code == "purge_too_early"


async def test_the_keeper_seals_and_keeps_once(release_app: App) -> None:
    app, _ = release_app
    await add_rows(app, row(months_ago(40)), row())
    settings = app.state.settings.model_copy(update={"access_log_retention_months": 24})
    done = await AccessLogKeeper(app.state.sessions, settings).run_once()
    assert done.sealed == 2
    assert done.purged is not None and done.purged.rows == 1
    assert len(await ids(app)) == 1
    assert await problems(app, late=timedelta(days=3650), retention=24) == []


async def test_the_app_seals_what_is_left_when_it_stops(make_settings: SettingsFactory) -> None:
    settings = make_settings("release", run_sequencer=True, access_log_seal_interval_seconds=3600)
    app = SERVICES["release"].create_app(settings)
    async with running(app):
        assert app.state.access_log_task is not None
        await add_rows(app, row(), row())
    # The app and its engine are gone; what it sealed on the way out is in the database.
    engine = create_engine(settings.database_url, schema=settings.database_schema)
    try:
        async with transaction(session_factory(engine)) as session:
            result = await session.exec(
                select(AuditEvent.event).where(col(AuditEvent.event_type) == "access_log.sealed")
            )
            assert sum(json.loads(value)["count"] for value in result.all()) == 2
    finally:
        await engine.dispose()


async def where_is(app: FastAPI, row_id: int) -> str:
    async with transaction(app.state.sessions) as session:
        connection = await session.connection()
        result = await connection.execute(
            text("SELECT tableoid::regclass::text FROM access_log WHERE id = :id"), {"id": row_id}
        )
        return str(result.scalar_one()).rsplit(".", 1)[-1]


@pytest.fixture
async def far_months(release_app: App) -> AsyncIterator[FastAPI]:
    """The app; the partitions a test makes for FAR's months are dropped afterwards."""
    app, _ = release_app
    yield app
    async with transaction(app.state.sessions) as session:
        connection = await session.connection()
        for moment in (FAR, OLD):
            for ahead in range(-1, 6):
                month = retention.add_months(retention.month_start(moment), ahead)
                name = retention.partition_name(month)
                await connection.execute(text(f"DROP TABLE IF EXISTS {name}"))


@pytest.mark.postgres
async def test_a_row_of_a_month_without_a_partition_lands_in_the_default_one(
    far_months: FastAPI,
) -> None:
    app = far_months
    await add_rows(app, row(FAR))
    [row_id] = await ids(app)
    assert await where_is(app, row_id) == "access_log_default"

    async with transaction(app.state.sessions) as session:
        made = await retention.maintain(session, now=FAR, months_ahead=2)
    assert made == ["access_log_y2031m05", "access_log_y2031m06", "access_log_y2031m07"]
    assert await where_is(app, row_id) == "access_log_y2031m05", "moved out of the default"
    async with transaction(app.state.sessions) as session:
        assert await retention.maintain(session, now=FAR, months_ahead=2) == []
    await add_rows(app, row(FAR + timedelta(days=31)))
    assert await where_is(app, (await ids(app))[-1]) == "access_log_y2031m06"
    await seal(app)
    assert await problems(app) == []


@pytest.mark.postgres
async def test_a_month_past_retention_is_dropped_as_a_partition(far_months: FastAPI) -> None:
    app = far_months
    async with transaction(app.state.sessions) as session:
        await retention.maintain(session, now=OLD, months_ahead=1)
    await add_rows(app, row(OLD), row(OLD + timedelta(days=31)), row(OLD + timedelta(days=62)))
    later = retention.add_months(retention.month_start(OLD), 25)
    async with transaction(app.state.sessions) as session:
        done = await retention.purge(session, now=later, retention_months=24)
        names = set(await retention.partitions(session))
    assert done is not None
    assert done.dropped == ("access_log_y2001m05",)
    assert done.rows == 1
    assert "access_log_y2001m05" not in names
    assert "access_log_y2001m06" in names
    assert "access_log_default" in names
    assert len(await ids(app)) == 2
