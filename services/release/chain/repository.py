"""SQL of links."""

import uuid

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.release.chain.models import LIVE_STATUSES, Link


async def live_links(session: AsyncSession, release_id: uuid.UUID) -> list[Link]:
    """The chain as it stands: pending and accepted links, in order."""
    statement = (
        select(Link)
        .where(col(Link.release_id) == release_id, col(Link.status).in_(LIVE_STATUSES))
        .order_by(col(Link.seq))
    )
    return list((await session.exec(statement)).all())


async def jti_used(session: AsyncSession, jti: str) -> bool:
    """Whether a link or an acceptance already carried this jti."""
    statement = select(Link.id).where((col(Link.jti) == jti) | (col(Link.ack_jti) == jti))
    return (await session.exec(statement.limit(1))).first() is not None
