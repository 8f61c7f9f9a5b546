"""SQL of links: the one module that writes the `links` table."""

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.release.chain.models import LIVE_STATUSES, Link, LinkStatus


async def live_links(session: AsyncSession, release_id: uuid.UUID) -> list[Link]:
    """The chain as it stands: pending and accepted links, in order."""
    statement = (
        select(Link)
        .where(col(Link.release_id) == release_id, col(Link.status).in_(LIVE_STATUSES))
        .order_by(col(Link.seq))
    )
    return list((await session.exec(statement)).all())


async def live_links_of(
    session: AsyncSession, release_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[Link]]:
    """The chains of several releases as they stand, in one statement (a page of them)."""
    chains: dict[uuid.UUID, list[Link]] = {release_id: [] for release_id in release_ids}
    if not chains:
        return chains
    statement = (
        select(Link)
        .where(col(Link.release_id).in_(chains), col(Link.status).in_(LIVE_STATUSES))
        .order_by(col(Link.release_id), col(Link.seq))
    )
    for link in (await session.exec(statement)).all():
        chains[link.release_id].append(link)
    return chains


async def jti_used(session: AsyncSession, jti: str) -> bool:
    """Whether a link or an acceptance already carried this jti."""
    statement = select(Link.id).where((col(Link.jti) == jti) | (col(Link.ack_jti) == jti))
    return (await session.exec(statement.limit(1))).first() is not None


async def add_link(session: AsyncSession, link: Link) -> bool:
    """Insert a link in a savepoint; False when a constraint refuses it (its position taken
    by another live link, or its jti used), the rest of the transaction untouched."""
    try:
        async with session.begin_nested():
            session.add(link)
    except IntegrityError:
        return False
    return True


def mark_accepted(
    session: AsyncSession, link: Link, *, ack: str, ack_jti: str, actor: str, now: datetime
) -> None:
    """The receiver's acknowledgement makes the link accepted."""
    link.status = LinkStatus.accepted
    link.ack, link.ack_jti = ack, ack_jti
    link.decided_by, link.decided_at = actor, now
    session.add(link)


def mark_declined(session: AsyncSession, link: Link, *, actor: str, now: datetime) -> None:
    """The receiver turned the link down."""
    link.status = LinkStatus.declined
    link.decided_by, link.decided_at = actor, now
    session.add(link)


def mark_withdrawn(
    session: AsyncSession, links: Sequence[Link], *, actor: str, now: datetime
) -> list[int]:
    """Mark these links withdrawn; returns their seqs."""
    for link in links:
        link.status = LinkStatus.withdrawn
        link.decided_by, link.decided_at = actor, now
        session.add(link)
    return [link.seq for link in links]
