"""The SQL of protective monitoring: the one module that reads and writes its tables."""

import uuid
from collections.abc import Collection, Sequence
from datetime import datetime

from sqlalchemy import delete, func, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.db import insert_once
from shared.monitoring.models import (
    Alert,
    AlertChange,
    AlertStatus,
    MonitoringCursor,
    MonitoringMark,
    MonitoringRule,
)


async def add_alert(session: AsyncSession, alert: Alert) -> bool:
    """Store an alert; False when its dedup key is taken (another process raised it first).

    A savepoint keeps the caller's transaction usable after the unique key refuses the row.
    """
    if alert.dedup_key is not None:
        taken = await session.exec(select(Alert.id).where(col(Alert.dedup_key) == alert.dedup_key))
        if taken.first() is not None:
            return False
    try:
        async with session.begin_nested():
            session.add(alert)
    except IntegrityError:
        return False
    return True


async def add_change(session: AsyncSession, alert_id: uuid.UUID, change: str, at: datetime) -> None:
    """Record one change of an alert for the stream."""
    session.add(AlertChange(alert_id=alert_id, change=change, at=at))
    await session.flush()


async def get_alert(session: AsyncSession, alert_id: uuid.UUID) -> Alert | None:
    """One alert, or None."""
    return await session.get(Alert, alert_id)


async def transition(
    session: AsyncSession,
    alert_id: uuid.UUID,
    *,
    allowed_from: Sequence[AlertStatus],
    values: dict[str, object],
) -> bool:
    """Move an alert on if it is still in one of `allowed_from`; True if this call did.

    One conditional UPDATE, so two officers acting at once cannot both succeed.
    """
    statement = (
        update(Alert)
        .where(col(Alert.id) == alert_id, col(Alert.status).in_([str(s) for s in allowed_from]))
        .values(**values)
    )
    result = await session.exec(statement)
    return bool(result.rowcount)


async def list_alerts(
    session: AsyncSession,
    *,
    since: datetime | None,
    until: datetime | None,
    status: str | None,
    kind: str | None,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> Sequence[Alert]:
    """Alerts in (raised_at, id) order, after a page's last one."""
    statement = select(Alert)
    if since is not None:
        statement = statement.where(col(Alert.raised_at) >= since)
    if until is not None:
        statement = statement.where(col(Alert.raised_at) < until)
    if status is not None:
        statement = statement.where(col(Alert.status) == status)
    if kind is not None:
        statement = statement.where(col(Alert.kind) == kind)
    if after is not None:
        moment, last = after
        statement = statement.where(
            or_(
                col(Alert.raised_at) > moment,
                (col(Alert.raised_at) == moment) & (col(Alert.id) > last),
            )
        )
    statement = statement.order_by(col(Alert.raised_at), col(Alert.id)).limit(limit)
    return (await session.exec(statement)).all()


async def changes_after(
    session: AsyncSession, after: int, *, also: Sequence[int] = (), limit: int = 100
) -> Sequence[tuple[AlertChange, Alert]]:
    """Changes with an id above `after` (and those named in `also`), oldest first, with
    their alerts as they stand now."""
    condition = col(AlertChange.id) > after
    if also:
        condition = or_(condition, col(AlertChange.id).in_(list(also)))
    statement = (
        select(AlertChange, Alert)
        .join(Alert, col(Alert.id) == col(AlertChange.alert_id))
        .where(condition)
        .order_by(col(AlertChange.id))
        .limit(limit)
    )
    return [(change, alert) for change, alert in (await session.exec(statement)).all()]


async def newest_change_id(session: AsyncSession) -> int:
    """The id of the latest alert change, 0 when there is none."""
    found = (await session.exec(select(func.max(AlertChange.id)))).one()
    return int(found or 0)


async def rule_settings(session: AsyncSession) -> dict[str, MonitoringRule]:
    """Every rule's stored settings, by name."""
    rows = (await session.exec(select(MonitoringRule))).all()
    return {row.name: row for row in rows}


async def put_rule(session: AsyncSession, row: MonitoringRule) -> None:
    """Store a rule's settings (insert or replace)."""
    await session.merge(row)
    await session.flush()


async def cursor(session: AsyncSession, source: str) -> int | None:
    """How far the runner has read `source`; None before its first look."""
    row = await session.get(MonitoringCursor, source)
    return None if row is None else row.position


async def move_cursor(session: AsyncSession, source: str, position: int, now: datetime) -> None:
    """Store how far the runner has read `source`."""
    row = await session.get(MonitoringCursor, source)
    if row is None:
        session.add(MonitoringCursor(source=source, position=position, updated_at=now))
    else:
        row.position = position
        row.updated_at = now
        session.add(row)
    await session.flush()


async def mark(
    session: AsyncSession,
    *,
    rule: str,
    event_id: uuid.UUID,
    subject: str,
    about: str,
    at: datetime,
) -> bool:
    """Record that a rule counted an event (once); True if this call did."""
    return await insert_once(
        session, MonitoringMark, rule=rule, event_id=event_id, subject=subject, about=about, at=at
    )


async def marks_over(
    session: AsyncSession,
    *,
    rule: str,
    since: datetime,
    subjects: Collection[str] | None,
    threshold: int,
) -> list[tuple[str, str, int]]:
    """(subject, about, count) of a rule's keys with at least `threshold` marks since then."""
    count = func.count()
    statement = select(MonitoringMark.subject, MonitoringMark.about, count).where(
        col(MonitoringMark.rule) == rule, col(MonitoringMark.at) >= since
    )
    if subjects is not None:
        statement = statement.where(col(MonitoringMark.subject).in_(list(subjects)))
    statement = statement.group_by(col(MonitoringMark.subject), col(MonitoringMark.about)).having(
        count >= threshold
    )
    return [(s, a, int(n)) for s, a, n in (await session.exec(statement)).all()]


async def marked_events(
    session: AsyncSession, *, rule: str, subject: str, about: str, since: datetime, limit: int
) -> Sequence[uuid.UUID]:
    """The events a rule counted for one key since then, oldest first."""
    statement = (
        select(MonitoringMark.event_id)
        .where(
            col(MonitoringMark.rule) == rule,
            col(MonitoringMark.subject) == subject,
            col(MonitoringMark.about) == about,
            col(MonitoringMark.at) >= since,
        )
        .order_by(col(MonitoringMark.at), col(MonitoringMark.event_id))
        .limit(limit)
    )
    return (await session.exec(statement)).all()


async def forget_marks(session: AsyncSession, *, before: datetime) -> int:
    """Delete marks older than any window can reach; how many."""
    result = await session.exec(delete(MonitoringMark).where(col(MonitoringMark.at) < before))
    return int(result.rowcount or 0)
