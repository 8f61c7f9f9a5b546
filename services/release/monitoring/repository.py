"""The SQL of the release service's rules: counts over the access log and the audit log."""

import uuid
from collections.abc import Collection, Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, func, or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.release.access.models import AccessLogEntry
from services.release.inspections.models import Inspection, InspectionStatus
from services.release.releases.models import Hold, Release

Entry = AccessLogEntry


def watched_container() -> ColumnElement[bool]:
    """An access-log row about a container selected for inspection (open) or on hold."""
    inspected = select(Inspection.container).where(col(Inspection.status) == InspectionStatus.open)
    held_releases = select(Hold.release_id)
    held_containers = select(Release.container).where(col(Release.id).in_(held_releases))
    return or_(
        col(Entry.container).in_(inspected),
        col(Entry.container).in_(held_containers),
        col(Entry.release_id).in_(held_releases),
    )


async def actors_over(
    session: AsyncSession,
    *,
    condition: ColumnElement[bool] | None,
    since: datetime,
    until: datetime,
    actors: Collection[str] | None,
    threshold: int,
) -> list[tuple[str, int]]:
    """(actor, rows) of the actors with at least `threshold` matching rows in [since, until]."""
    rows = func.count(col(Entry.id))
    statement = select(Entry.actor, rows).where(col(Entry.at) >= since, col(Entry.at) <= until)
    if condition is not None:
        statement = statement.where(condition)
    if actors is not None:
        statement = statement.where(col(Entry.actor).in_(list(actors)))
    statement = statement.group_by(col(Entry.actor)).having(rows >= threshold)
    return [(actor, int(count)) for actor, count in (await session.exec(statement)).all()]


async def rows_of(
    session: AsyncSession,
    *,
    actor: str,
    condition: ColumnElement[bool] | None,
    since: datetime,
    until: datetime,
    limit: int,
) -> Sequence[AccessLogEntry]:
    """The actor's matching rows in [since, until], newest first."""
    statement = select(Entry).where(
        col(Entry.actor) == actor, col(Entry.at) >= since, col(Entry.at) <= until
    )
    if condition is not None:
        statement = statement.where(condition)
    statement = statement.order_by(col(Entry.id).desc()).limit(limit)
    return (await session.exec(statement)).all()


async def moments_of(
    session: AsyncSession,
    people: Collection[uuid.UUID],
    *,
    since: datetime,
    until: datetime,
    limit: int,
) -> Sequence[tuple[uuid.UUID | None, datetime]]:
    """(person, when) of these people's reads in [since, until), at most `limit` rows."""
    statement = (
        select(Entry.person_id, Entry.at)
        .where(
            col(Entry.person_id).in_(list(people)),
            col(Entry.at) >= since,
            col(Entry.at) < until,
        )
        .limit(limit)
    )
    return (await session.exec(statement)).all()


async def persons_active(session: AsyncSession, *, since: datetime) -> Sequence[uuid.UUID]:
    """The people who read anything since then."""
    statement = (
        select(Entry.person_id)
        .where(col(Entry.at) >= since, col(Entry.person_id).is_not(None))
        .distinct()
    )
    return [person for person in (await session.exec(statement)).all() if person is not None]
