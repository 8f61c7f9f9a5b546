"""The identity half of a party's exposure report over HTTP."""

from typing import Annotated

from fastapi import APIRouter, Path, Request

from services.identity.deps import ReadingPrincipal, UtcNowDep
from services.identity.exposure import service
from services.identity.exposure.schemas import PartyExposureView
from services.identity.monitoring.reads import recorder
from shared.deps import ReadSessionDep
from shared.problems import PROBLEM, Problem

router = APIRouter(prefix="/v1/parties/{party_id}", tags=["exposure"])

# Longer than any party id: refused as input (422) rather than looked up.
PartyIdPath = Annotated[str, Path(max_length=64)]


@router.get(
    "/exposure",
    summary="Who of the party can do what with its identity (port security, its admins)",
    responses={
        403: {
            **PROBLEM,
            "description": "`exposure_not_allowed`: the party's own people other than admins",
        },
        404: {**PROBLEM, "description": "`party_not_found`: unknown, or another party's"},
    },
)
async def party_exposure(
    request: Request,
    party_id: PartyIdPath,
    principal: ReadingPrincipal,
    session: ReadSessionDep,
    now: UtcNowDep,
) -> PartyExposureView:
    """The party's people by role, each role's custodial signing rights and whether it
    sees the party's people, every key (own, custodial, device) with whether it holds a
    credential now, and the keys its API client authenticates with and their scopes.
    For port security and the party's administrators; another party's caller gets 404
    `party_not_found`, as for an unknown id. Each read and refusal is recorded
    (`security.read`, action `exposure.read`, naming the party asked about)."""
    recorded = recorder(
        request.app.state.sessions, principal, action="exposure.read", now=now, about=party_id
    )
    try:
        exposure = await service.party_exposure(
            session, principal=principal, party_id=party_id, now=now
        )
    except Problem as refusal:
        await recorded("not_found" if refusal.status == 404 else "refused")
        raise
    await recorded("ok", len(exposure.people))
    return PartyExposureView.of(exposure)
