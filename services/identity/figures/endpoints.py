"""The identity service's yearly figures over HTTP (port security)."""

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response

from services.identity.deps import ReadingPrincipal, UtcNowDep
from services.identity.figures import service
from services.identity.monitoring.reads import recorder
from shared.deps import ReadSessionDep
from shared.figures import FIGURES_RESPONSE, figures_response
from shared.problems import Problem, problem_responses

router = APIRouter(prefix="/v1/figures", tags=["figures"])

#: The years asked about: the service is younger than the first, the last is far enough.
Year = Annotated[int, Path(ge=2000, le=2999)]


@router.get(
    "/{year}",
    response_class=Response,
    summary="The year's figures to publish: suspensions, alerts (port security)",
    responses={**FIGURES_RESPONSE, **problem_responses(401, 403, 422)},
)
async def yearly_figures(
    year: Year,
    request: Request,
    principal: ReadingPrincipal,
    session: ReadSessionDep,
    now: UtcNowDep,
) -> Response:
    """Rows `year,figure,kind,terminal,status,outcome,count` for the calendar year in UTC:
    `alerts` by kind, status and outcome; `suspensions` of people (kind `person`) by reason
    (outcome `integrity`, `investigation`, `left_employer`, `other`). CSV by default, JSON
    with `Accept: application/json`. For port security's officers and its API client
    (`alerts:read`); everyone else gets 403. Each read and refusal is recorded
    (`security.read`, action `figures.read`)."""
    recorded = recorder(
        request.app.state.sessions, principal, action="figures.read", now=now, about=str(year)
    )
    try:
        rows = await service.yearly_figures(session, principal=principal, year=year)
    except Problem:
        await recorded("refused")
        raise
    await recorded("ok", len(rows))
    return figures_response(
        service="identity", year=year, rows=rows, accept=request.headers.get("accept", "")
    )
