"""SQL of the identity service's yearly figures: suspensions of people by reason."""

from datetime import datetime

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.identity.people.models import PersonSuspension
from shared.figures import FigureRow


async def suspensions(
    session: AsyncSession, *, since: datetime, until: datetime
) -> list[FigureRow]:
    """`suspensions` rows: people suspended in [since, until), by reason (integrity,
    investigation, left_employer, other); each suspension counts, also of one person."""
    reason = col(PersonSuspension.reason)
    statement = (
        select(reason, func.count())
        .where(
            col(PersonSuspension.suspended_at) >= since,
            col(PersonSuspension.suspended_at) < until,
        )
        .group_by(reason)
        .order_by(reason)
    )
    return [
        FigureRow(figure="suspensions", kind="person", outcome=r, count=int(n))
        for r, n in (await session.exec(statement)).all()
    ]
