"""Alerts over HTTP: port security lists what the service raised (and is logged doing so)."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import AwareDatetime

from services.release.access.service import record_read
from services.release.alerts import repository
from services.release.alerts.schemas import AlertPage, AlertView
from services.release.auth import Caller
from services.release.deps import NowDep, require
from services.release.paging import check_period, next_cursor, read_cursor
from shared.deps import ReadSessionDep
from shared.problems import problem_responses

router = APIRouter(prefix="/v1/alerts", tags=["alerts"])

PortSecurity = Annotated[Caller, Depends(require("inspections", "port_security"))]


@router.get(
    "",
    summary="Alerts of a period (port security)",
    responses=problem_responses(401, 403, 422, 503),
)
async def list_alerts(
    request: Request,
    caller: PortSecurity,
    session: ReadSessionDep,
    now: NowDep,
    since: AwareDatetime,
    until: AwareDatetime,
    kind: Annotated[str | None, Query(max_length=40)] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> AlertPage:
    """Alerts raised in [since, until), oldest first, a page at a time."""
    check_period(since, until)
    found = await repository.alerts_between(
        session, since=since, until=until, kind=kind, after=read_cursor(cursor), limit=limit
    )
    views = [AlertView.of(alert) for alert in found]
    await record_read(
        request.app.state.sessions,
        caller,
        action="alerts.list",
        outcome="ok",
        now=now,
        results=len(views),
    )
    last = views[-1] if len(views) == limit else None
    return AlertPage(
        alerts=views, next=next_cursor(last.raised_at, last.alert_id) if last else None
    )
