"""The identity service's yearly figures (docs/exposure.md, Yearly figures).

For port security to publish: suspensions of people by reason (`integrity` among them,
those screened across employers) and the identity service's alerts by kind, status and
outcome. Counts only: no person, no party, no time finer than the year.

Who may read them is port security, as for alerts (`shared.monitoring.auth.check_reader`).
The endpoint records each read and each refusal as an audit event `security.read`.
"""

from sqlmodel.ext.asyncio.session import AsyncSession

from services.identity.figures import repository
from shared.auth import Principal
from shared.figures import FigureRow, alert_figures, year_bounds
from shared.monitoring.auth import check_reader


async def yearly_figures(
    session: AsyncSession, *, principal: Principal, year: int
) -> list[FigureRow]:
    """Every figure of the year for port security, in a fixed order: alerts, suspensions."""
    check_reader(principal)
    since, until = year_bounds(year)
    rows = [
        *await alert_figures(session, since=since, until=until),
        *await repository.suspensions(session, since=since, until=until),
    ]
    return rows
