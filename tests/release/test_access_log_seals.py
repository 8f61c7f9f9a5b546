"""The access log sealed into the audit log: every row once, per month, late commits too."""

import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlmodel import col, select

from services.release.access.seals import seal_batch
from services.release.access.verify import verify_access_log
from shared.audit.models import AuditEvent
from shared.db import transaction
from shared.models import utcnow
from tests.release.access_logs import add_rows, dba, ids, problems, row, seal

App = tuple[FastAPI, httpx.AsyncClient]


async def seal_events(app: FastAPI) -> list[dict[str, object]]:
    async with transaction(app.state.sessions) as session:
        result = await session.exec(
            select(AuditEvent.event)
            .where(col(AuditEvent.event_type) == "access_log.sealed")
            .order_by(col(AuditEvent.id))
        )
        return [json.loads(text) for text in result.all()]


async def test_a_seal_commits_the_rows_to_the_audit_log_and_verifies(release_app: App) -> None:
    app, _ = release_app
    await add_rows(app, row(), row(container=None, outcome="not_found"), row())
    [made] = await seal(app)
    assert made.count == 3
    [event] = await seal_events(app)
    assert event["count"] == 3
    assert event["first_id"] == made.first_id
    assert event["last_id"] == made.last_id
    assert event["month"] == utcnow().strftime("%Y-%m")
    assert await problems(app) == []
    assert await seal(app) == [], "a sealed row is not sealed again"


async def test_a_row_committed_late_with_a_lower_id_is_sealed_by_the_next_seal(
    release_app: App,
) -> None:
    app, _ = release_app
    await add_rows(app, row(), row(), row())
    first, second, third = await ids(app)
    # The second read's transaction "commits late": it was not there for the first seal.
    await dba(app, "DELETE FROM access_log WHERE id = :id", id=second)
    before = await seal(app)
    assert [(s.first_id, s.last_id, s.count) for s in before] == [(first, third, 2)]
    await add_rows(app, row(id=second))
    [later] = await seal(app)
    assert (later.first_id, later.last_id, later.count) == (second, second, 1)
    assert await problems(app) == []


async def test_each_month_has_its_own_seals(release_app: App) -> None:
    app, _ = release_app
    last_month = datetime(2026, 11, 30, 23, 59, 59, tzinfo=UTC)
    this_month = datetime(2026, 12, 1, 0, 0, 0, tzinfo=UTC)
    await add_rows(app, row(this_month), row(last_month), row(this_month))
    made = await seal(app)
    assert sorted((s.month, s.count) for s in made) == [("2026-11", 1), ("2026-12", 2)]
    assert await problems(app, late=timedelta(days=3650)) == []


async def test_an_old_row_inserted_after_a_seal_passed_it_by_is_reported(
    release_app: App,
) -> None:
    app, _ = release_app
    await add_rows(app, row())
    await seal(app)
    # A row "from last week", written now: the seal just made would have taken it.
    await add_rows(app, row(utcnow() - timedelta(days=7)))
    [found] = await problems(app)
    assert found.code == "row_unsealed"
    await seal(app)
    [found] = await problems(app)
    assert found.code == "row_sealed_late"
    assert found.first_id == (await ids(app))[-1]


async def test_the_endpoint_is_part_of_the_digest(release_app: App) -> None:
    app, _ = release_app
    await add_rows(app, row(), row())
    await seal(app)
    first = (await ids(app))[0]
    await dba(app, "UPDATE access_log SET endpoint = 'GET /v1/elsewhere' WHERE id = :id", id=first)
    [found] = await problems(app)
    assert found.code == "seal_differs"


# On SQLite a second writer waits for the first's write lock: nothing to race.
@pytest.mark.postgres
async def test_two_sealers_at_once_seal_each_row_once(release_app: App) -> None:
    app, _ = release_app
    await add_rows(app, row(), row())
    async with transaction(app.state.sessions) as first:
        made = await seal_batch(first, batch_size=100)
        async with transaction(app.state.sessions) as second:
            assert await seal_batch(second, batch_size=100) == [], "the lock is taken"
    assert [seal.count for seal in made] == [2]
    assert await seal(app) == []
    assert await problems(app) == []


async def test_a_run_from_a_month_on_checks_only_that_month_and_later(release_app: App) -> None:
    app, _ = release_app
    november = datetime(2026, 11, 20, tzinfo=UTC)
    december = datetime(2026, 12, 2, tzinfo=UTC)
    await add_rows(app, row(november), row(november), row(december))
    await seal(app)
    first, _, third = await ids(app)
    await dba(app, "DELETE FROM access_log WHERE id = :id", id=first)
    late = timedelta(days=3650)
    async with transaction(app.state.sessions) as session:
        assert await verify_access_log(session, late_margin=late, since_month="2026-12") == []
        [found] = await verify_access_log(session, late_margin=late, since_month="2026-11")
    assert (found.code, found.month) == ("seal_differs", "2026-11")
    await dba(app, "UPDATE access_log SET actor = 'person:x' WHERE id = :id", id=third)
    async with transaction(app.state.sessions) as session:
        [found] = await verify_access_log(session, late_margin=late, since_month="2026-12")
    assert (found.code, found.first_id) == ("seal_differs", third)
