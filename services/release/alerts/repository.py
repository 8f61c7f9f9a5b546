"""The SQL of alerts: this module is the one that reads and writes `alerts`."""

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.release.alerts.models import Alert
from services.release.paging import keyset_page


async def add(session: AsyncSession, alert: Alert) -> None:
    """Store an alert (the caller logs it in the same transaction)."""
    session.add(alert)
    await session.flush()


async def alerts_between(
    session: AsyncSession,
    *,
    since: datetime,
    until: datetime,
    kind: str | None,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> Sequence[Alert]:
    """Alerts raised in [since, until), oldest first, after a page's last one."""
    statement = select(Alert).where(col(Alert.raised_at) >= since, col(Alert.raised_at) < until)
    if kind is not None:
        statement = statement.where(col(Alert.kind) == kind)
    statement = keyset_page(statement, col(Alert.raised_at), col(Alert.id), after, limit)
    return (await session.exec(statement)).all()
