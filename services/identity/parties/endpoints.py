"""Parties over HTTP: administrators register, list and change them; a party sees itself;
dispatchers search the directory for counterparties."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from services.identity.deps import AdminPrincipal, CurrentPrincipal, UtcNowDep
from services.identity.parties import service
from services.identity.parties.models import Party, PartyRole
from services.identity.parties.schemas import (
    PartyCreate,
    PartyFound,
    PartyPage,
    PartySearchResult,
    PartyView,
)
from shared.deps import SessionDep
from shared.problems import PROBLEM

router = APIRouter(prefix="/v1/parties", tags=["parties"])
# The search lives beside the public directory of parties (`/v1/directory/parties/{id}/…`),
# not on `GET /v1/parties`, the administrators' list: a parameter never widens a route's
# audience.
directory_router = APIRouter(prefix="/v1/directory/parties", tags=["parties"])


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


@directory_router.get(
    "",
    summary="Search active counterparties by name or EORI id (dispatchers)",
    responses={
        403: {
            **PROBLEM,
            "description": "`person_required` (an API client's token), `party_search_not_allowed`"
            " (not a dispatcher of a shipping line, forwarder or carrier)",
        },
        422: {
            **PROBLEM,
            "description": f"`query_too_short` (under {service.MIN_QUERY_LENGTH} characters),"
            " `query_too_long`, `invalid_query` (control characters), `role_not_searchable`,"
            " `invalid_request` (no `q`, an unknown role)",
        },
    },
)
async def search_parties(
    principal: CurrentPrincipal,
    session: SessionDep,
    q: Annotated[
        str,
        Query(
            description=f"{service.MIN_QUERY_LENGTH} to {service.MAX_QUERY_LENGTH} characters:"
            " part of the name (any case), or the start of an EORI id (`NL123`, `EU.EORI.NL123`)",
            examples=["haulier"],
        ),
    ],
    role: Annotated[
        PartyRole | None,
        Query(
            description="only parties with this role: shipping_line, forwarder, carrier, terminal"
        ),
    ] = None,
) -> PartySearchResult:
    """Active parties with the role shipping_line, forwarder, carrier or terminal whose name
    holds `q` or whose id starts with it, at most 20 and no next page; for signed-in
    dispatchers of shipping lines, forwarders and carriers (and administrators). Each search
    is logged with its caller and query."""
    found = await service.search_parties(session, principal=principal, query=q, role=role)
    return PartySearchResult(
        items=[PartyFound.of(party) for party in found.parties], truncated=found.truncated
    )
