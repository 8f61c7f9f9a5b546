"""The identity service's yearly figures (docs/exposure.md, Yearly figures).

For port security to publish: suspensions of people by reason (`integrity` among them,
those screened across employers) and the identity service's alerts by kind, status and
outcome. Counts only: no person, no party, no time finer than the year.

Who may read them is port security, as for alerts (`shared.monitoring.auth.check_reader`).
Identity keeps reads in its structured log, not in a table (docs/identity.md): each read
and each refusal is a log line here.
"""

import structlog
from sqlmodel.ext.asyncio.session import AsyncSession

from services.identity.figures import repository
from shared.auth import Principal
from shared.figures import FigureRow, alert_figures, year_bounds
from shared.monitoring.auth import check_reader
from shared.problems import Problem

logger = structlog.get_logger(__name__)


async def yearly_figures(
    session: AsyncSession, *, principal: Principal, year: int
) -> list[FigureRow]:
    """Every figure of the year for port security, in a fixed order: alerts, suspensions."""
    try:
        check_reader(principal)
    except Problem:
        logger.warning("figures_refused", actor=principal.actor, caller=principal.party_id)
        raise
    since, until = year_bounds(year)
    rows = [
        *await alert_figures(session, since=since, until=until),
        *await repository.suspensions(session, since=since, until=until),
    ]
    logger.info("figures_read", actor=principal.actor, year=year, rows=len(rows))
    return rows
