"""Parties over HTTP: administrators register, list and change them; a party sees itself."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from services.identity.deps import AdminPrincipal, CurrentPrincipal, UtcNowDep
from services.identity.parties import service
from services.identity.parties.models import Party
from services.identity.parties.schemas import PartyCreate, PartyPage, PartyView
from shared.deps import SessionDep

router = APIRouter(prefix="/v1/parties", tags=["parties"])


async def visible_party(party_id: str, principal: CurrentPrincipal, session: SessionDep) -> Party:
    """The party of the path, if the caller may see it; 404 like an unknown id otherwise."""
    return await service.get_visible_party(session, party_id=party_id, principal=principal)


VisibleParty = Annotated[Party, Depends(visible_party)]


@router.post("", status_code=201, summary="Register a party (admin)")
async def create_party(
    body: PartyCreate,
    admin: AdminPrincipal,
    session: SessionDep,
    response: Response,
    now: UtcNowDep,
) -> PartyView:
    """Register a party: 409 `party_exists` for an id already taken, 422 `invalid_eori`."""
    party = await service.create_party(
        session,
        party_id=body.id,
        name=body.name,
        roles=body.roles,
        actor=admin.actor,
        now=now,
    )
    response.headers["Location"] = f"{router.prefix}/{party.id}"
    return PartyView.of(party)


@router.get("", summary="List parties (admin)")
async def list_parties(
    _admin: AdminPrincipal,
    session: SessionDep,
    after: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=service.MAX_PAGE_SIZE)] = 50,
) -> PartyPage:
    """Parties in id order, `limit` at a time, starting after the id `after`."""
    parties, next_after = await service.list_parties(session, after=after, limit=limit)
    return PartyPage(items=[PartyView.of(p) for p in parties], next_after=next_after)


@router.get("/{party_id}", summary="One party (admin, or a caller of that party)")
async def get_party(party: VisibleParty) -> PartyView:
    """A party; callers of other parties get 404 `party_not_found`, as for unknown ids."""
    return PartyView.of(party)


@router.post("/{party_id}/suspend", summary="Suspend a party (admin)")
async def suspend_party(
    party_id: str, admin: AdminPrincipal, session: SessionDep, now: UtcNowDep
) -> PartyView:
    """Suspend an active party; 409 `party_already_suspended` or `party_revoked`."""
    party = await service.suspend_party(session, party_id=party_id, actor=admin.actor, now=now)
    return PartyView.of(party)


@router.post("/{party_id}/reinstate", summary="Reinstate a suspended party (admin)")
async def reinstate_party(
    party_id: str, admin: AdminPrincipal, session: SessionDep, now: UtcNowDep
) -> PartyView:
    """Lift a suspension; 409 `party_not_suspended`, or `party_revoked` (revocation is final)."""
    party = await service.reinstate_party(session, party_id=party_id, actor=admin.actor, now=now)
    return PartyView.of(party)


@router.post("/{party_id}/revoke", summary="Revoke a party for good (admin)")
async def revoke_party(
    party_id: str, admin: AdminPrincipal, session: SessionDep, now: UtcNowDep
) -> PartyView:
    """Revoke a party; 409 `party_revoked` if it already is."""
    party = await service.revoke_party(session, party_id=party_id, actor=admin.actor, now=now)
    return PartyView.of(party)
