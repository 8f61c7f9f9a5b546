"""Small factories for audit-log tests."""

import uuid

from fastapi import FastAPI

from shared.audit.events import append
from shared.audit.sequencer import drain
from shared.audit.service import AuditLog
from shared.db import SessionFactory, transaction


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
