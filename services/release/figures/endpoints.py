"""The release service's yearly figures over HTTP (port security)."""

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response

from services.release.access.service import record_read
from services.release.deps import CurrentCaller, NowDep
from services.release.figures import service
from shared.deps import ReadSessionDep
from shared.figures import FIGURES_RESPONSE, figures_response
from shared.monitoring.auth import check_reader
from shared.problems import Problem, problem_responses

router = APIRouter(prefix="/v1/figures", tags=["figures"])

#: The years asked about: the service is younger than the first, the last is far enough.
Year = Annotated[int, Path(ge=2000, le=2999)]


@router.get(
    "/{year}",
    response_class=Response,
    summary="The year's figures to publish: alerts, inspections, draws, visits (port security)",
    responses={**FIGURES_RESPONSE, **problem_responses(401, 403, 422, 503)},
)
async def yearly_figures(
    year: Year, request: Request, caller: CurrentCaller, session: ReadSessionDep, now: NowDep
) -> Response:
    """Rows `year,figure,kind,terminal,status,outcome,count` for the calendar year in UTC:
    `alerts` by kind, status and outcome; `inspections` by terminal and outcome (open,
    clear, finding, seizure, cancelled, over_capacity); `container_draws` selected or not;
    `visits` done or missed. CSV by default, JSON with `Accept: application/json`. For
    port security's officers and its API client (`alerts:read`); everyone else gets 403,
    and every read and refusal is recorded in the access log (`figures.read`)."""
    try:
        check_reader(caller.principal)
    except Problem:
        await record_read(
            request.app.state.sessions, caller, action="figures.read", outcome="refused", now=now
        )
        raise
    rows = await service.yearly_figures(session, year=year)
    await record_read(
        request.app.state.sessions,
        caller,
        action="figures.read",
        outcome="ok",
        now=now,
        results=len(rows),
    )
    return figures_response(
        service="release", year=year, rows=rows, accept=request.headers.get("accept", "")
    )
