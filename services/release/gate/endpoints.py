"""The gate over HTTP: decisions and gate-outs, for the operators of a terminal."""

import uuid

from fastapi import APIRouter, Request

from services.release.access.service import record_read
from services.release.deps import (
    DirectoryDep,
    DrawingKeyDep,
    GateOperator,
    IdentityApiDep,
    NowDep,
    SettingsDep,
)
from services.release.gate import service
from services.release.gate.models import GateDecision
from services.release.gate.schemas import DecisionRequest, DecisionView, GateOutView, Reason
from shared.deps import ReadSessionDep, SessionDep
from shared.problems import NotFound, problem_responses

router = APIRouter(prefix="/v1/gate", tags=["gate"])


def _view(decision: GateDecision) -> DecisionView:
    return DecisionView(
        decision_id=decision.id,
        decision=decision.decision,
        reasons=[Reason(**reason) for reason in decision.reasons],
        release_id=decision.release_id,
        event_id=decision.event_id,
        container=decision.container,
        driver=decision.driver_id,
        decided_at=decision.decided_at,
        draw_id=decision.draw_id,
        inspection_id=decision.inspection_id,
    )


@router.post(
    "/decisions",
    status_code=201,
    summary="May this driver take this container?",
    # 429 and 503: the identity service's answers when a kiosk asks for the gate pass.
    responses=problem_responses(401, 403, 422, 429, 503),
)
async def decide(
    body: DecisionRequest,
    caller: GateOperator,
    session: SessionDep,
    directory: DirectoryDep,
    api: IdentityApiDep,
    settings: SettingsDep,
    drawing_key: DrawingKeyDep,
    now: NowDep,
) -> DecisionView:
    """`release`, `inspect` or `deny` with reasons; `event_id` fetches the receipt later.

    A `release` or `inspect` names its verifiable draw (`draw_id`), an `inspect` its
    inspection (`inspection_id`); 503 `checkpoint_unavailable` while the audit log has no
    signed checkpoint to draw against."""
    decision = await service.decide(
        session,
        caller=caller,
        body=body,
        directory=directory,
        api=api,
        settings=settings,
        drawing_key=drawing_key,
        now=now,
    )
    return _view(decision)


@router.get(
    "/decisions/{decision_id}",
    summary="One gate decision (its terminal)",
    responses=problem_responses(401, 403, 404, 422, 503),
)
async def get_decision(
    decision_id: uuid.UUID,
    request: Request,
    caller: GateOperator,
    session: ReadSessionDep,
    now: NowDep,
) -> DecisionView:
    """A decision of the caller's terminal; 404 `decision_not_found` otherwise. A read of
    the container's release, in the access log (`gate.decision`) whatever its outcome."""
    try:
        found = await service.visible_decision(session, caller, decision_id)
    except NotFound:
        await record_read(
            request.app.state.sessions, caller, action="gate.decision", outcome="not_found", now=now
        )
        raise
    await record_read(
        request.app.state.sessions,
        caller,
        action="gate.decision",
        outcome="shown",
        now=now,
        release_id=found.release_id,
        container=found.container,
        results=1,
    )
    return _view(found)


@router.post(
    "/decisions/{decision_id}/complete",
    summary="Record the gate-out",
    responses=problem_responses(401, 403, 404, 409, 422, 503),
)
async def complete(
    decision_id: uuid.UUID,
    caller: GateOperator,
    session: SessionDep,
    directory: DirectoryDep,
    settings: SettingsDep,
    now: NowDep,
) -> GateOutView:
    """Exactly once per release, whatever replica serves it; every other try is 409."""
    gate_out, event_id = await service.complete(
        session,
        caller=caller,
        decision_id=decision_id,
        directory=directory,
        settings=settings,
        now=now,
    )
    return GateOutView(
        decision_id=gate_out.decision_id,
        release_id=gate_out.release_id,
        completed_at=gate_out.completed_at,
        event_id=event_id,
    )
