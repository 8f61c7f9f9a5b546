"""Inspections over HTTP: the VRF key, the draws (port security), inspections and outcomes.

Who may do what (docs/inspections.md):

- the public key: anyone (it is what makes the draws checkable);
- draws: port security only (they name containers and releases);
- inspections: a terminal sees its own (its gate scope), customs and port security all;
- an outcome: customs or port security with the `inspections` scope (a person: an
  officer), never whoever asked for the gate decision that selected the container.
"""

import uuid
from collections import Counter
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import AwareDatetime

from services.release.access.service import record_read, record_shown
from services.release.auth import Caller, allows
from services.release.deps import CurrentCaller, DrawingKeyDep, NowDep, require
from services.release.gate import repository as gate_repository
from services.release.inspections import repository, service
from services.release.inspections.keys import SUITE, b64
from services.release.inspections.models import InspectionStatus, Purpose
from services.release.inspections.schemas import (
    CancellationCounts,
    CancelRequest,
    DecisionDraw,
    DecisionPage,
    DrawPage,
    DrawView,
    InspectionKeys,
    InspectionList,
    InspectionView,
    OfficerCancellations,
    OutcomeRecord,
    PublishedKey,
    published_key,
)
from services.release.visits import repository as visits_repository
from shared.audit import repository as audit_log
from shared.audit.models import AuditEvent
from shared.deps import ReadSessionDep, SessionDep
from shared.paging import check_period, next_cursor, read_cursor
from shared.problems import Forbidden, NotFound, problem_responses

router = APIRouter(prefix="/v1/inspections", tags=["inspections"])

PortSecurity = Annotated[Caller, Depends(require("inspections", "port_security"))]
Officer = Annotated[Caller, Depends(require("inspections", "customs", "port_security"))]


def _oversees(caller: Caller) -> bool:
    return allows(caller, "inspections") and (caller.has("customs") or caller.has("port_security"))


def _terminal_of(caller: Caller) -> str | None:
    """None for an overseer (sees all); the terminal's id for its gate; else 403."""
    if _oversees(caller):
        return None
    if caller.has("terminal") and allows(caller, "gate"):
        return caller.party_id
    raise Forbidden(
        "role_required", "inspections are seen by their terminal, customs and port security"
    )


@router.get("/key", summary="The inspection VRF's public keys (public)")
async def inspection_keys(session: ReadSessionDep, key: DrawingKeyDep) -> InspectionKeys:
    """Every key draws name, oldest first, and which one draws now."""
    published = [published_key(stored) for stored in await repository.keys(session)]
    if all(item.key_id != key.key_id for item in published):
        # Not drawn with yet: published all the same, so it is known before its first draw.
        published.append(
            PublishedKey(
                key_id=key.key_id,
                public_key=b64(key.public_key),
                first_used_at=None,
            )
        )
    return InspectionKeys(suite=SUITE, current=key.key_id, keys=published)


def _text(event: AuditEvent | None) -> str | None:
    return event.event if event is not None else None


@router.get(
    "/draws",
    summary="Draws of a period, to recompute (port security)",
    responses=problem_responses(401, 403, 422, 503),
)
async def list_draws(
    request: Request,
    caller: PortSecurity,
    session: ReadSessionDep,
    now: NowDep,
    since: AwareDatetime,
    until: AwareDatetime,
    purpose: Purpose | None = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 500,
) -> DrawPage:
    """Draws in [since, until) in the order they were made, a page at a time."""
    check_period(since, until)
    found = await repository.draws_between(
        session, since=since, until=until, purpose=purpose, after=read_cursor(cursor), limit=limit
    )
    # A visit slot's draw is drawn ahead of its slot: nobody reads it before the slot is over.
    hidden = await visits_repository.undisclosed_draws(
        session, [draw.id for draw in found if draw.purpose == Purpose.visit], now
    )
    shown = [draw for draw in found if draw.id not in hidden]
    logged = await audit_log.events_by_ids(session, [draw.event_id for draw in shown])
    views = [DrawView.of(draw, _text(logged.get(draw.event_id))) for draw in shown]
    await record_read(
        request.app.state.sessions,
        caller,
        action="inspections.draws",
        outcome="ok",
        now=now,
        results=len(views),
    )
    last = found[-1] if len(found) == limit else None
    return DrawPage(draws=views, next=next_cursor(last.drawn_at, last.id) if last else None)


@router.get(
    "/draws/{draw_id}",
    summary="One draw (port security)",
    responses=problem_responses(401, 403, 404, 422, 503),
)
async def get_draw(
    draw_id: uuid.UUID, caller: PortSecurity, session: ReadSessionDep, request: Request, now: NowDep
) -> DrawView:
    """A draw named by a decision outside a period being checked (a cleared inspection's)."""
    found = await repository.draw(session, draw_id)
    if found is not None and await visits_repository.undisclosed_draws(session, [found.id], now):
        found = None  # a visit slot's draw, before the slot is over
    await record_read(
        request.app.state.sessions,
        caller,
        action="inspections.draw",
        outcome="ok" if found else "not_found",
        now=now,
        results=1 if found else 0,
    )
    if found is None:
        raise NotFound("draw_not_found", "no such draw")
    logged = await audit_log.events_by_ids(session, [found.event_id])
    return DrawView.of(found, _text(logged.get(found.event_id)))


@router.get(
    "/decisions",
    summary="Gate decisions of a period with the draw each names (port security)",
    responses=problem_responses(401, 403, 422, 503),
)
async def list_decisions(
    request: Request,
    caller: PortSecurity,
    session: ReadSessionDep,
    now: NowDep,
    since: AwareDatetime,
    until: AwareDatetime,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 500,
) -> DecisionPage:
    """So that anyone checking the draws can see that every decision has its one draw."""
    check_period(since, until)
    found = await gate_repository.decisions_between(
        session, since=since, until=until, after=read_cursor(cursor), limit=limit
    )
    logged = await audit_log.events_by_ids(session, [item.event_id for item in found])
    views = [
        DecisionDraw(
            decision_id=item.id,
            decision=item.decision,
            draw_id=item.draw_id,
            release_id=item.release_id,
            container=item.container,
            terminal=item.terminal_id,
            decided_at=item.decided_at,
            event_id=item.event_id,
            logged_event=_text(logged.get(item.event_id)),
        )
        for item in found
    ]
    await record_read(
        request.app.state.sessions,
        caller,
        action="inspections.decisions",
        outcome="ok",
        now=now,
        results=len(views),
    )
    last = views[-1] if len(views) == limit else None
    return DecisionPage(
        decisions=views, next=next_cursor(last.decided_at, last.decision_id) if last else None
    )


@router.get(
    "/cancellations",
    summary="Cancelled selections of a period, per officer (port security)",
    responses=problem_responses(401, 403, 422, 503),
)
async def cancellation_counts(
    caller: PortSecurity,
    session: ReadSessionDep,
    since: AwareDatetime,
    until: AwareDatetime,
) -> CancellationCounts:
    """An officer who cancels many selections is worth a look."""
    check_period(since, until)
    counts: dict[str, Counter[str]] = {}
    for item in await repository.cancellations(session, since=since, until=until):
        counts.setdefault(str(item.cancel_requested_by), Counter())["requested"] += 1
        counts.setdefault(str(item.closed_by), Counter())["confirmed"] += 1
    return CancellationCounts(
        officers=[
            OfficerCancellations(
                officer=officer, requested=tally["requested"], confirmed=tally["confirmed"]
            )
            for officer, tally in sorted(counts.items())
        ]
    )


@router.get(
    "",
    summary="Inspections the caller may see (terminal: its own)",
    responses=problem_responses(401, 403, 422, 503),
)
async def list_inspections(
    request: Request,
    caller: CurrentCaller,
    session: ReadSessionDep,
    now: NowDep,
    status: InspectionStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> InspectionList:
    """Open ones with `status=open`: what an officer has to do, or a terminal has waiting.
    One access-log entry (`inspections.list`) per container shown."""
    found = await repository.inspections(
        session, terminal_id=_terminal_of(caller), status=status, limit=limit
    )
    shown = [(item.release_id, item.container) for item in found]
    await record_shown(
        request.app.state.sessions, caller, action="inspections.list", shown=shown, now=now
    )
    return InspectionList(inspections=[InspectionView.of(item) for item in found])


@router.get(
    "/{inspection_id}",
    summary="One inspection",
    responses=problem_responses(401, 403, 404, 422, 503),
)
async def get_inspection(
    inspection_id: uuid.UUID,
    request: Request,
    caller: CurrentCaller,
    session: ReadSessionDep,
    now: NowDep,
) -> InspectionView:
    """404 for one that does not exist or that is another terminal's; logged either way
    (`inspection.read`)."""
    terminal = _terminal_of(caller)
    found = await repository.inspection(session, inspection_id)
    if found is not None and terminal is not None and found.terminal_id != terminal:
        found = None
    await record_read(
        request.app.state.sessions,
        caller,
        action="inspection.read",
        outcome="shown" if found else "not_found",
        now=now,
        release_id=found.release_id if found else None,
        container=found.container if found else None,
        results=1 if found else 0,
    )
    if found is None:
        raise service.inspection_not_found()
    return InspectionView.of(found)


@router.post(
    "/{inspection_id}/outcome",
    summary="Record what the inspection found (customs, port security)",
    responses=problem_responses(401, 403, 404, 409, 422, 503),
)
async def record_outcome(
    inspection_id: uuid.UUID,
    body: OutcomeRecord,
    caller: Officer,
    session: SessionDep,
    now: NowDep,
) -> InspectionView:
    """`clear` lets the container go; `finding` or `seizure` places a customs hold. 403
    `inspector_is_requester` for whoever asked for the gate decision; 409
    `inspection_closed` when an outcome was recorded already."""
    inspection = await service.record_outcome(
        session,
        caller=caller,
        inspection_id=inspection_id,
        outcome=InspectionStatus(body.outcome),
        note=body.note,
        now=now,
    )
    return InspectionView.of(inspection)


@router.post(
    "/{inspection_id}/cancel",
    summary="Cancel a selection: asked by one officer, confirmed by another",
    responses=problem_responses(401, 403, 404, 409, 422, 503),
)
async def cancel_selection(
    inspection_id: uuid.UUID,
    body: CancelRequest,
    caller: Officer,
    session: SessionDep,
    now: NowDep,
) -> InspectionView:
    """The first call asks (`cancel_requested_by` is set); a second, different officer with
    the same reason cancels it. 409 `second_officer_required` for the same officer again,
    `cancel_reason_differs` for another reason; 403 `inspector_is_requester`."""
    inspection = await service.cancel(
        session, caller=caller, inspection_id=inspection_id, reason=body.reason, now=now
    )
    return InspectionView.of(inspection)
