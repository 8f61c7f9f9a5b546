"""SQL of "who knew?": everything stored about one container that names who saw it."""

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import String, cast
from sqlmodel import col, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.release.access.models import AccessLogEntry
from services.release.chain.models import Link
from services.release.gate.models import GateDecision, GateOut
from services.release.inspections.models import Inspection
from services.release.releases.models import Hold, Release
from shared.monitoring.evidence import containers_named
from shared.monitoring.models import Alert


async def releases_of(session: AsyncSession, container: str) -> list[Release]:
    """Every release of the container, oldest first."""
    result = await session.exec(
        select(Release).where(col(Release.container) == container).order_by(col(Release.created_at))
    )
    return list(result.all())


async def reads_of(
    session: AsyncSession,
    *,
    container: str,
    release_ids: Sequence[uuid.UUID],
    since: datetime | None,
    until: datetime | None,
) -> list[AccessLogEntry]:
    """Access-log rows of the container, or of one of its releases (an attempt on a release
    the caller may not see names the release, not the container), in [since, until)."""
    about = col(AccessLogEntry.container) == container
    if release_ids:
        about = or_(about, col(AccessLogEntry.release_id).in_(release_ids))
    statement = select(AccessLogEntry).where(about)
    if since is not None:
        statement = statement.where(col(AccessLogEntry.at) >= since)
    if until is not None:
        statement = statement.where(col(AccessLogEntry.at) < until)
    return list((await session.exec(statement)).all())


async def links_of(session: AsyncSession, release_ids: Sequence[uuid.UUID]) -> list[Link]:
    """Every link of these releases, live or not."""
    if not release_ids:
        return []
    result = await session.exec(select(Link).where(col(Link.release_id).in_(release_ids)))
    return list(result.all())


async def decisions_of(session: AsyncSession, container: str) -> list[GateDecision]:
    """Every gate decision asked for the container."""
    result = await session.exec(
        select(GateDecision).where(col(GateDecision.container) == container)
    )
    return list(result.all())


async def gate_outs_of(session: AsyncSession, release_ids: Sequence[uuid.UUID]) -> list[GateOut]:
    """The pickups of these releases."""
    if not release_ids:
        return []
    result = await session.exec(select(GateOut).where(col(GateOut.release_id).in_(release_ids)))
    return list(result.all())


async def holds_of(session: AsyncSession, release_ids: Sequence[uuid.UUID]) -> list[Hold]:
    """The holds standing on these releases (a lifted hold is gone from the table; its lift
    was a logged read)."""
    if not release_ids:
        return []
    result = await session.exec(select(Hold).where(col(Hold.release_id).in_(release_ids)))
    return list(result.all())


async def inspections_of(session: AsyncSession, container: str) -> list[Inspection]:
    """Every inspection of the container."""
    result = await session.exec(select(Inspection).where(col(Inspection.container) == container))
    return list(result.all())


async def alerts_naming(session: AsyncSession, container: str) -> list[Alert]:
    """Alerts whose facts name the container, oldest first. The facts are matched as text
    first (a container number is distinctive, and the alerts table is small: one row per
    alert) and then parsed, so a number inside another string does not count."""
    result = await session.exec(
        select(Alert)
        .where(cast(col(Alert.facts), String).contains(container))
        .order_by(col(Alert.raised_at), col(Alert.id))
    )
    return [alert for alert in result.all() if container in containers_named(alert.facts)]
