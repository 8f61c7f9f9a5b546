"""SQL of evidence bundles: the audit events that name a release (reads only)."""

import uuid

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.audit.models import AuditEvent


async def events_naming(session: AsyncSession, release_id: uuid.UUID) -> list[AuditEvent]:
    """Every stored event whose text names the release, in the order they were stored.

    A substring match over the event texts: an event names a release anywhere in it (a
    draw's input holds the id inside its `alpha` text). It scans the table, which an
    export (a rare request of port security) can afford; the hot paths never ask it.
    """
    statement = (
        select(AuditEvent)
        .where(col(AuditEvent.event).contains(str(release_id), autoescape=True))
        .order_by(col(AuditEvent.id))
    )
    return list((await session.exec(statement)).all())
