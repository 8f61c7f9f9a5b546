"""Gate passes for drivers: from the driver's phone, or typed in at a terminal kiosk."""

import uuid
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Response

from services.identity.deps import (
    ClientAddressDep,
    CurrentPrincipal,
    KeyRingCacheDep,
    LimiterDep,
    NowDep,
    SettingsDep,
)
from services.identity.gatepass import service
from services.identity.gatepass.schemas import GatePassRequest, GatePassResponse
from services.identity.parties.models import PartyRole
from services.identity.people.models import Person, PersonRole
from services.identity.people.service import person_not_found
from services.identity.sessions import repository
from services.identity.sessions.ratelimit import TooManyAttempts, rate_limited_response
from services.identity.sessions.service import Refused, record_refusal
from shared.auth import Principal
from shared.deps import SessionDep
from shared.problems import Forbidden, problem_response, problem_responses

router = APIRouter(tags=["gate passes"])


@dataclass(frozen=True)
class GatePassAccess:
    """The driver a gate pass is asked for, and who asks."""

    person: Person
    caller: Principal


async def gate_pass_access(
    person_id: uuid.UUID, principal: CurrentPrincipal, session: SessionDep
) -> GatePassAccess:
    """The driver himself, or a terminal's client or operator (a kiosk); decided before lookup."""
    itself = principal.person_id == person_id
    kiosk = PartyRole.terminal in principal.party_roles and (
        principal.person_id is None or principal.person_role == PersonRole.operator
    )
    if not (itself or kiosk):
        raise Forbidden(
            "gate_pass_not_allowed", "only the driver or a terminal can ask for a gate pass"
        )
    person = await repository.get_person(session, person_id)
    if person is None:
        raise person_not_found()
    return GatePassAccess(person=person, caller=principal)


@router.post(
    "/v1/people/{person_id}/gate-pass",
    response_model=GatePassResponse,
    summary="A gate pass for a driver who proves his second factor",
    responses=problem_responses(401, 403, 404, 422, 429),
)
async def issue_gate_pass(
    access: Annotated[GatePassAccess, Depends(gate_pass_access)],
    response: Response,
    session: SessionDep,
    settings: SettingsDep,
    keyring: KeyRingCacheDep,
    limiter: LimiterDep,
    address: ClientAddressDep,
    now: NowDep,
    body: Annotated[GatePassRequest | None, Body()] = None,
) -> Any:
    """A `ketenpas-gatepass+jwt` valid for at most 120 s, with a single-use jti."""
    _, key = await keyring.signing()
    try:
        issued = await service.issue_gate_pass(
            session,
            settings=settings,
            limiter=limiter,
            signing_key=key,
            person=access.person,
            caller=access.caller,
            otp=body.otp if body else None,
            address=address,
            now=now,
        )
    except TooManyAttempts as exc:
        return rate_limited_response(exc)
    except Refused as exc:
        # Answered rather than raised, so the audit entry commits with the request.
        await record_refusal(session, refusal=exc, address=address, actor=access.caller.actor)
        return problem_response(exc.status, exc.code, exc.detail)
    response.headers["Cache-Control"] = "no-store"
    return GatePassResponse(gate_pass=issued.token, expires_in=issued.expires_in)
