"""Small factories for audit-log tests."""

import uuid
from typing import Any

from fastapi import FastAPI
from sqlalchemy import text
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.audit.events import append, commitment
from shared.audit.models import AuditEvent
from shared.audit.sequencer import drain
from shared.audit.service import AuditLog
from shared.db import SessionFactory, transaction


async def raw_sql(session: AsyncSession, sql: str, **params: object) -> list[tuple[Any, ...]]:
    """Run SQL behind the models' back, as a database administrator could; returns rows."""
    connection = await session.connection()
    result = await connection.execute(text(sql), params)
    return [tuple(row) for row in result] if result.returns_rows else []


def parts(app: FastAPI) -> tuple[SessionFactory, AuditLog]:
    """The running app's session factory and audit log."""
    return app.state.sessions, app.state.audit_log


async def append_events(
    sessions: SessionFactory, count: int, *, per_transaction: int = 1
) -> list[uuid.UUID]:
    """Append `count` test events, committed `per_transaction` at a time."""
    ids: list[uuid.UUID] = []
    for start in range(0, count, per_transaction):
        async with transaction(sessions) as session:
            for number in range(start, min(count, start + per_transaction)):
                ids.append(await append(session, "test.event", {"n": number}))
    return ids


async def integrate_all(app: FastAPI, batch_size: int = 2000) -> int:
    """Integrate everything pending and sign a checkpoint; returns the tree size."""
    sessions, log = parts(app)
    return await drain(sessions, signer=log.signer, origin=log.origin, batch_size=batch_size)


async def rewrite_history(app: FastAPI, *, index: int) -> None:
    """Fork the log as an insider with the signing key could: change one event, rebuild all."""
    sessions, log = parts(app)
    async with transaction(sessions) as session:
        for statement in (
            "DELETE FROM audit_tiles",
            "DELETE FROM audit_checkpoints",
            "DELETE FROM audit_tree",
            "UPDATE audit_events SET log_index = NULL",
        ):
            await raw_sql(session, statement)
        event = (
            await session.exec(select(AuditEvent).where(col(AuditEvent.id) == index + 1))
        ).one()
        forged = event.event.replace('"n":', '"n":1000')
        event.event = forged
        event.commitment = commitment(bytes(event.salt), forged.encode())
        session.add(event)
    log.cache.clear()
    await integrate_all(app)
