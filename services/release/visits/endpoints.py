"""Sites, dispatch and visits over HTTP.

Who may do what (docs/inspections.md#drug-dog-and-patrol-visits):

- sites, their teams and rate profiles, and the slots of a period once they are over: port
  security (the `inspections` scope), but no person on a site's team manages that site;
- a site's dispatch (its visits drawn and not yet ended) and their outcomes: only the
  officers on its team; for everyone else the site does not exist (404), and a party
  without the `inspections` scope is refused outright (403).

No route lists a slot before it is over to anyone but the site's team, and no route lists a
slot that has not been drawn: there is nothing to list, since no schedule exists.
"""

import uuid
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import AwareDatetime
from sqlmodel.ext.asyncio.session import AsyncSession

from services.release.access.service import record_read
from services.release.auth import Caller
from services.release.deps import NowDep, SettingsDep, require
from services.release.inspections.schemas import DrawView
from services.release.settings import ReleaseSettings
from services.release.visits import repository, service
from services.release.visits.models import VisitOutcome, VisitSite
from services.release.visits.schemas import (
    Dispatch,
    RateProfile,
    SiteChange,
    SiteCreate,
    SitePage,
    SiteView,
    SlotPage,
    SlotView,
    TeamSet,
    VisitOutcomeRecord,
    VisitView,
)
from shared.audit import repository as audit_log
from shared.deps import ReadSessionDep, SessionDep
from shared.paging import check_period, next_cursor, read_cursor
from shared.problems import InvalidInput, NotFound, problem_responses

router = APIRouter(prefix="/v1/sites", tags=["visits"])

PortSecurity = Annotated[Caller, Depends(require("inspections", "port_security"))]
Officer = Annotated[Caller, Depends(require("inspections", *service.TEAM_PARTY_ROLES))]


def _check_visit_length(seconds: int | None, settings: ReleaseSettings) -> None:
    if seconds is not None and seconds > settings.visit_max_seconds:
        raise InvalidInput(
            "visit_too_long", f"a visit lasts at most {settings.visit_max_seconds} seconds"
        )


async def _view(session: AsyncSession, site: VisitSite) -> SiteView:
    ids = [event for event in (site.event_id, site.closed_event_id) if event is not None]
    logged = await audit_log.events_by_ids(session, ids)
    texts = {event_id: event.event for event_id, event in logged.items()}
    return SiteView.of(site, list(await repository.team(session, site.id)), texts)


@router.post(
    "",
    status_code=201,
    summary="Make a site (port security)",
    responses=problem_responses(401, 403, 422, 503),
)
async def create_site(
    body: SiteCreate, caller: PortSecurity, session: SessionDep, settings: SettingsDep, now: NowDep
) -> SiteView:
    """Its first slot is the first whose drawing moment comes after now; rates default to
    none (no visits) until set."""
    _check_visit_length(body.visit_seconds, settings)
    site = await service.create_site(
        session,
        caller=caller,
        name=body.name,
        kind=body.kind,
        visit_seconds=body.visit_seconds,
        rates=body.rates if body.rates is not None else [[0.0] * 24 for _ in range(7)],
        slot_seconds=settings.visit_slot_seconds,
        lead_seconds=settings.visit_lead_seconds,
        now=now,
    )
    if body.team:
        site = await service.set_team(
            session,
            caller=caller,
            site_id=site.id,
            members=[(member.party_id, member.person_id) for member in body.team],
            now=now,
        )
    return await _view(session, site)


@router.get(
    "",
    summary="Sites (port security)",
    responses=problem_responses(401, 403, 422, 503),
)
async def list_sites(
    caller: PortSecurity,
    session: ReadSessionDep,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> SitePage:
    """Every site, open and closed, oldest first, with the slots each has."""
    found = await repository.sites(session, after=read_cursor(cursor), limit=limit)
    views = [await _view(session, site) for site in found]
    last = found[-1] if len(found) == limit else None
    return SitePage(sites=views, next=next_cursor(last.created_at, last.id) if last else None)


@router.get(
    "/slots",
    summary="A period's slots that are over, with their draws (port security)",
    responses=problem_responses(401, 403, 422, 503),
)
async def list_slots(
    request: Request,
    caller: PortSecurity,
    session: ReadSessionDep,
    settings: SettingsDep,
    now: NowDep,
    since: AwareDatetime,
    until: AwareDatetime,
    site: uuid.UUID | None = None,
    visit: Annotated[bool, Query(description="only the slots that had a visit")] = False,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 500,
) -> SlotPage:
    """Slots starting in [since, until) whose visit, had there been one, has ended."""
    check_period(since, until)
    found = await repository.past_slots(
        session,
        since=since,
        until=until,
        now=now,
        site_id=site,
        visits_only=visit,
        after=read_cursor(cursor),
        limit=limit,
    )
    draws = await repository.draws_of(
        session, [slot.draw_id for slot in found if slot.draw_id is not None]
    )
    events = [e for slot in found for e in (slot.event_id, slot.rates_event_id) if e is not None]
    events += [draw.event_id for draw in draws.values()]
    logged = {
        event_id: event.event
        for event_id, event in (await audit_log.events_by_ids(session, events)).items()
    }
    views = []
    for slot in found:
        draw = draws.get(slot.draw_id) if slot.draw_id is not None else None
        shown = DrawView.of(draw, logged.get(draw.event_id)) if draw is not None else None
        views.append(SlotView.of(slot, shown, logged))
    await record_read(
        request.app.state.sessions,
        caller,
        action="visits.slots",
        outcome="ok",
        now=now,
        results=len(views),
    )
    complete = min(until, now - timedelta(seconds=settings.visit_max_seconds))
    last = found[-1] if len(found) == limit else None
    return SlotPage(
        slots=views,
        complete_until=max(since, complete),
        next=next_cursor(last.slot_start, last.id) if last else None,
    )


@router.get(
    "/{site_id}",
    summary="One site (port security)",
    responses=problem_responses(401, 403, 404, 422, 503),
)
async def get_site(site_id: uuid.UUID, caller: PortSecurity, session: ReadSessionDep) -> SiteView:
    """A site with its team and rate profile."""
    site = await repository.site(session, site_id)
    if site is None:
        raise service.site_not_found()
    return await _view(session, site)


@router.patch(
    "/{site_id}",
    summary="Change or close a site (port security)",
    responses=problem_responses(401, 403, 404, 409, 422, 503),
)
async def change_site(
    site_id: uuid.UUID,
    body: SiteChange,
    caller: PortSecurity,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
) -> SiteView:
    """`closed: true` ends the site's slots after those whose drawing moment has come;
    409 `site_closed` for a closed site."""
    _check_visit_length(body.visit_seconds, settings)
    changes = body.model_dump(exclude_none=True, exclude={"closed"})
    site = await service.change_site(
        session,
        caller=caller,
        site_id=site_id,
        changes=changes,
        close=bool(body.closed),
        lead_seconds=settings.visit_lead_seconds,
        now=now,
    )
    return await _view(session, site)


@router.put(
    "/{site_id}/rates",
    summary="Set a site's rate profile (port security)",
    responses=problem_responses(401, 403, 404, 422, 503),
)
async def set_rates(
    site_id: uuid.UUID, body: RateProfile, caller: PortSecurity, session: SessionDep, now: NowDep
) -> SiteView:
    """Visits per hour by day and hour; applies to the slots not drawn yet."""
    site = await service.set_rates(
        session, caller=caller, site_id=site_id, rates=body.rates, now=now
    )
    return await _view(session, site)


@router.put(
    "/{site_id}/team",
    summary="Set a site's team (port security)",
    responses=problem_responses(401, 403, 404, 422, 503),
)
async def set_team(
    site_id: uuid.UUID, body: TeamSet, caller: PortSecurity, session: SessionDep, now: NowDep
) -> SiteView:
    """The officers (party and person) who see the site's dispatch and record outcomes."""
    site = await service.set_team(
        session,
        caller=caller,
        site_id=site_id,
        members=[(member.party_id, member.person_id) for member in body.members],
        now=now,
    )
    return await _view(session, site)


@router.get(
    "/{site_id}/dispatch",
    summary="The site's visits drawn and not yet ended (its team)",
    responses=problem_responses(401, 403, 404, 422, 503),
)
async def dispatch(
    site_id: uuid.UUID,
    request: Request,
    response: Response,
    caller: Officer,
    session: ReadSessionDep,
    now: NowDep,
) -> Dispatch:
    """Only visits already drawn (at most the lead time ahead) and not yet over; 404
    `site_not_found` for anyone not on the site's team."""
    try:
        site, visits = await service.dispatch(session, caller=caller, site_id=site_id, now=now)
    except NotFound:
        await record_read(
            request.app.state.sessions, caller, action="visits.dispatch", outcome="refused", now=now
        )
        raise
    # Who read it and when, not how many visits it held: the access log is read by people
    # who must not learn from it whether a visit is coming.
    await record_read(
        request.app.state.sessions, caller, action="visits.dispatch", outcome="ok", now=now
    )
    response.headers["Cache-Control"] = "no-store"
    return Dispatch(
        site_id=site.id, name=site.name, as_of=now, visits=[VisitView.of(v) for v in visits]
    )


@router.post(
    "/{site_id}/visits/{visit_id}/outcome",
    summary="Record what became of a visit (its team)",
    responses=problem_responses(401, 403, 404, 409, 422, 503),
)
async def record_outcome(
    site_id: uuid.UUID,
    visit_id: uuid.UUID,
    body: VisitOutcomeRecord,
    caller: Officer,
    session: SessionDep,
    now: NowDep,
) -> VisitView:
    """`done`, or `missed` with a reason (which raises an alert); 409 `visit_not_started`
    before the visit's start, `visit_outcome_recorded` when one was recorded already."""
    slot = await service.record_outcome(
        session,
        caller=caller,
        site_id=site_id,
        visit_id=visit_id,
        outcome=VisitOutcome(body.outcome),
        reason=body.reason,
        note=body.note,
        now=now,
    )
    return VisitView.of(slot)
