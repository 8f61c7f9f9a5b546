"""A party's exposure report: who of the party can see or do what, and what each looked up.

The identity half (people by role, keys, custodial signing, API clients) is the identity
service's: it is asked with the caller's own token (`IdentityApi.party_exposure`), so it
judges the caller itself. This service adds what only it knows: what each role may do here,
read off its routes' own guards (`exposure.rights`), and each person's and client's reads of
the period from the access log.

The report maps a party's staff, so it is for port security (its officers, its API client
under `inspections`) and for the party's own administrators, nobody else: a caller of
another party gets the 404 of an unknown party, before the identity service is asked; the
party's own other people and its API client get 403 `exposure_not_allowed`.
"""

import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime

from pydantic import ValidationError
from sqlmodel.ext.asyncio.session import AsyncSession

from services.release.auth import Caller, allows
from services.release.exposure import repository
from services.release.exposure.repository import LookupCount
from services.release.exposure.schemas import (
    ActorLookups,
    CustodialSigningView,
    ExposureReport,
    IdentityExposure,
    LookupView,
    PersonReport,
    RightView,
    RoleReport,
)
from services.release.identity_api import IdentityApi
from services.release.identity_errors import unavailable
from shared.auth import Principal
from shared.problems import Forbidden, NotFound

#: What a stand-in caller of a role may do here: the routes it passes (`exposure.rights`,
#: read off the app by the endpoint; this module stays below the FastAPI adapters).
RightsOf = Callable[[Caller], Awaitable[list[RightView]]]

#: The role name of a party's API client in the report, beside the person roles.
API_CLIENT = "api_client"
#: The scope port security reads reports under (its officers act under it by their role).
PORT_SECURITY_SCOPE = "inspections"


def is_port_security(caller: Caller) -> bool:
    """Port security: its officers, or its API client holding the `inspections` scope."""
    return caller.has("port_security") and allows(caller, PORT_SECURITY_SCOPE)


def may_read_exposure(caller: Caller, party_id: str) -> bool:
    """Port security, or a person with the admin role of the party itself."""
    if is_port_security(caller):
        return True
    return (
        caller.party_id == party_id and caller.is_person and caller.principal.person_role == "admin"
    )


def party_not_found() -> NotFound:
    """The one answer for a party that does not exist or whose report the caller may not
    read (the identity service's code, so both answer alike)."""
    return NotFound("party_not_found", "no such party")


def check_may_read_exposure(caller: Caller, party_id: str) -> None:
    """404 `party_not_found` for another party's caller, 403 for the party's own others."""
    if may_read_exposure(caller, party_id):
        return
    if caller.party_id != party_id:
        raise party_not_found()
    raise Forbidden("exposure_not_allowed", "the party's exposure is for its administrators")


def stand_in(
    party_id: str,
    party_roles: frozenset[str],
    *,
    person_role: str | None,
    scopes: frozenset[str] = frozenset(),
) -> Caller:
    """A caller of the party in a person role (None: its API client with these scopes)."""
    principal = Principal(
        party_id=party_id,
        party_roles=party_roles,
        scopes=scopes if person_role is None else frozenset(),
        person_id=uuid.uuid4() if person_role is not None else None,
        person_role=person_role,
    )
    return Caller(principal, token="")


def _view(count: LookupCount | None) -> LookupView:
    if count is None:
        return LookupView()
    return LookupView(
        reads=count.reads,
        refused=count.refused,
        containers=count.containers,
        first_at=count.first_at,
        last_at=count.last_at,
    )


async def _role_rights(rights_of: RightsOf, identity: IdentityExposure) -> list[RoleReport]:
    party_roles = frozenset(identity.party_roles)
    reports = []
    for role in identity.roles:
        caller = stand_in(identity.party_id, party_roles, person_role=role.role)
        reports.append(
            RoleReport(
                role=role.role,
                active=role.active,
                suspended=role.suspended,
                rights=await rights_of(caller),
                custodial_signing=role.custodial_signing,
                sees_party_people=role.sees_party_people,
            )
        )
    client = stand_in(
        identity.party_id,
        party_roles,
        person_role=None,
        scopes=frozenset(identity.client_scopes),
    )
    reports.append(
        RoleReport(
            role=API_CLIENT,
            active=len(identity.api_clients),
            suspended=0,
            rights=await rights_of(client),
            custodial_signing=CustodialSigningView(link_kinds=[], accepts=False),
            sees_party_people=True,
        )
    )
    return reports


async def exposure_report(
    session: AsyncSession,
    *,
    rights_of: RightsOf,
    api: IdentityApi,
    caller: Caller,
    party_id: str,
    since: datetime,
    until: datetime,
) -> ExposureReport:
    """The whole report of a party for the period [since, until)."""
    check_may_read_exposure(caller, party_id)
    answer = await api.party_exposure(caller.token, party_id)
    try:
        identity = IdentityExposure.model_validate(answer)
    except ValidationError as exc:
        raise unavailable("exposure", "an answer of the wrong form") from exc
    if identity.party_id != party_id:
        raise unavailable("exposure", "an answer about another party")
    counts = await repository.lookups(session, party_id=party_id, since=since, until=until)
    by_person = {count.person_id: count for count in counts if count.person_id is not None}
    listed = {person.person_id for person in identity.people}
    people = [
        PersonReport(**person.model_dump(), lookups=_view(by_person.get(person.person_id)))
        for person in identity.people
    ]
    others = [
        ActorLookups(actor=count.actor, person_id=count.person_id, lookups=_view(count))
        for count in counts
        if count.person_id is None or count.person_id not in listed
    ]
    return ExposureReport(
        party_id=identity.party_id,
        name=identity.name,
        party_roles=identity.party_roles,
        status=identity.status,
        since=since,
        until=until,
        roles=await _role_rights(rights_of, identity),
        people=people,
        other_lookups=others,
        keys=identity.keys,
        api_clients=identity.api_clients,
    )
