"""The release service's yearly figures (docs/exposure.md, Yearly figures).

For port security to publish: alerts by kind, status and outcome; inspections selected per
terminal and what became of them (clear, finding, seizure, ...); the gate's container draws,
selected or not; drug-dog and patrol visits done or missed. Counts only: no container, no
person, no time finer than the year.
"""

from sqlmodel.ext.asyncio.session import AsyncSession

from services.release.figures import repository
from shared.figures import FigureRow, alert_figures, year_bounds


async def yearly_figures(session: AsyncSession, *, year: int) -> list[FigureRow]:
    """Every figure of the year, in a fixed order: alerts, inspections, draws, visits."""
    since, until = year_bounds(year)
    return [
        *await alert_figures(session, since=since, until=until),
        *await repository.inspections(session, since=since, until=until),
        *await repository.container_draws(session, since=since, until=until),
        *await repository.visits(session, since=since, until=until),
    ]
