"""`shared.db.insert_at_commit`: rows queued in a transaction are written when it commits,
all of them, in order, in one statement on PostgreSQL; a rolled-back one writes none.

The gate writes its audit events, decision and outbox event this way (one round trip
instead of one each); these tests hold the mechanism to what the gate relies on.
"""

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import event
from sqlmodel import col
from sqlmodel import select as select_models
from sqlmodel.ext.asyncio.session import AsyncSession

from services.release.webhooks.models import OutboxEvent
from shared.audit.events import append_at_commit
from shared.audit.models import AuditEvent
from shared.db import SessionFactory, create_engine, insert_at_commit, session_factory, table_of
from tests.conftest import Database

pytestmark = pytest.mark.usefixtures("databases")


@pytest.fixture
async def sessions(databases: dict[str, Database]) -> AsyncIterator[SessionFactory]:
    release = databases["release"]
    engine = create_engine(release.url, schema=release.schema)
    yield session_factory(engine)
    await engine.dispose()


def _outbox_row(n: int) -> dict[str, Any]:
    return {
        "event_id": uuid.uuid4(),
        "event_type": f"test.{n}",
        "release_id": None,
        "facts": {"n": n, "nested": {"list": [1, 2]}},
        "occurred_at": datetime(2026, 12, 7, 2, 0, n, tzinfo=UTC),
    }


async def _outbox(sessions: SessionFactory) -> list[OutboxEvent]:
    async with sessions() as session:
        rows = await session.exec(select_models(OutboxEvent).order_by(col(OutboxEvent.id)))
        return list(rows.all())


async def _events(sessions: SessionFactory) -> list[AuditEvent]:
    async with sessions() as session:
        rows = await session.exec(select_models(AuditEvent).order_by(col(AuditEvent.id)))
        return list(rows.all())


async def test_queued_rows_are_written_at_the_commit_in_order(sessions: SessionFactory) -> None:
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.startswith(("INSERT", "WITH")):
            statements.append(statement)

    async with sessions() as session, session.begin():
        engine = session.get_bind()
        event.listen(engine, "before_cursor_execute", count)
        queued = [_outbox_row(n) for n in range(3)]
        ids = []
        for n, row in enumerate(queued):
            insert_at_commit(session, table_of(OutboxEvent), row)
            ids.append(append_at_commit(session, "test.queued", {"n": n}))
        assert statements == []  # nothing yet: the rows wait for the commit
        assert await _outbox_in(session) == 0
    event.remove(engine, "before_cursor_execute", count)
    written = await _outbox(sessions)
    assert [row.event_id for row in written] == [row["event_id"] for row in queued]
    assert [row.facts for row in written] == [row["facts"] for row in queued]
    assert [row.occurred_at for row in written] == [row["occurred_at"] for row in queued]
    assert [e.event_id for e in await _events(sessions)] == ids
    if engine.dialect.name == "postgresql":
        assert len(statements) == 1, statements  # both tables, six rows, one round trip
    else:
        assert len(statements) == 6


async def _outbox_in(session: AsyncSession) -> int:
    return len((await session.exec(select_models(OutboxEvent.id))).all())


async def test_a_rolled_back_transaction_writes_none_of_its_queued_rows(
    sessions: SessionFactory,
) -> None:
    with pytest.raises(RuntimeError):
        async with sessions() as session, session.begin():
            insert_at_commit(session, table_of(OutboxEvent), _outbox_row(1))
            append_at_commit(session, "test.rolled_back", {})
            raise RuntimeError("the change fails")
    # The same session object's next transaction does not inherit them either.
    async with sessions() as session:
        async with session.begin():
            insert_at_commit(session, table_of(OutboxEvent), _outbox_row(2))
            await session.rollback()
        async with session.begin():
            pass
    assert await _outbox(sessions) == []
    assert await _events(sessions) == []


async def test_a_savepoint_leaves_queued_rows_to_the_outer_commit(
    sessions: SessionFactory,
) -> None:
    async with sessions() as session, session.begin():
        insert_at_commit(session, table_of(OutboxEvent), _outbox_row(1))
        async with session.begin_nested():
            insert_at_commit(session, table_of(OutboxEvent), _outbox_row(2))
        assert await _outbox_in(session) == 0
    assert [row.event_type for row in await _outbox(sessions)] == ["test.1", "test.2"]
