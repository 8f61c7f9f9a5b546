"""SQL of evidence bundles: a release's audit events and links (reads only)."""

import uuid

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.release.chain.models import Link
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


async def links_of(session: AsyncSession, release_id: uuid.UUID) -> list[Link]:
    """Every link of the release, live, declined or withdrawn (they stay, as evidence)."""
    statement = select(Link).where(col(Link.release_id) == release_id)
    return list((await session.exec(statement)).all())
