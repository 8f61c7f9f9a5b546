"""SQL of the service's own signing keys."""

from collections.abc import Sequence
from datetime import datetime

from sqlmodel import col, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.identity.signing.models import SigningKey


async def any_key_exists(session: AsyncSession) -> bool:
    """Whether the service has ever had a signing key."""
    existing = await session.exec(select(SigningKey.kid).limit(1))
    return existing.first() is not None


async def unretired(session: AsyncSession) -> Sequence[SigningKey]:
    """The keys that have not been retired (normally one)."""
    rows = await session.exec(select(SigningKey).where(col(SigningKey.retired_at).is_(None)))
    return rows.all()


async def every_key(session: AsyncSession) -> Sequence[SigningKey]:
    """Every signing key the service has had, oldest first."""
    rows = await session.exec(select(SigningKey).order_by(col(SigningKey.activates_at)))
    return rows.all()


async def published(session: AsyncSession, now: datetime) -> Sequence[SigningKey]:
    """The keys still published at `now` (those whose signatures may still be checked)."""
    rows = await session.exec(
        select(SigningKey).where(
            or_(col(SigningKey.publish_until).is_(None), col(SigningKey.publish_until) > now)
        )
    )
    return rows.all()
