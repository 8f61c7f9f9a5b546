"""The caller of the identity service and his rights: a domain concept, not a FastAPI one.

`deps.py` verifies the caller's token and wraps these in FastAPI dependencies; services
import the predicates from here, so that a guard and a service's own check are one rule.
"""

from sqlmodel.ext.asyncio.session import AsyncSession

from services.identity.parties import repository as parties
from services.identity.parties.models import PartyRole, PartyStatus
from services.identity.people import repository as people
from services.identity.people.models import PersonRole, PersonStatus
from shared.auth import Principal
from shared.problems import Unauthorised


def is_admin(principal: Principal) -> bool:
    """An administrator: a client of an admin party, or a person with the admin role."""
    if principal.person_id is not None:
        return principal.person_role == PersonRole.admin and (
            PartyRole.admin in principal.party_roles
        )
    return PartyRole.admin in principal.party_roles


async def check_standing(session: AsyncSession, principal: Principal) -> None:
    """401 unless the caller's party (and person) is still in good standing."""
    party = await parties.get(session, principal.party_id)
    if party is None or party.status != PartyStatus.active:
        raise Unauthorised("party_not_active", "the caller's party is suspended or revoked")
    if principal.person_id is not None:
        person = await people.get(session, principal.person_id)
        if person is None or person.status != PersonStatus.active:
            raise Unauthorised("person_not_active", "the caller is suspended")


#: The party roles whose dispatchers look up counterparties: those that release a container
#: or hand it on (terminals, customs and port security hand nothing to anyone).
COUNTERPARTY_SEEKERS = frozenset({PartyRole.shipping_line, PartyRole.forwarder, PartyRole.carrier})
#: The person roles that see every person of their own party (to assign and manage them).
PARTY_VIEWER_ROLES = frozenset({PersonRole.dispatcher, PersonRole.admin})


def may_search_parties(principal: Principal, party_roles: frozenset[str]) -> bool:
    """An administrator, or a dispatcher of a party that releases or hands on containers.

    `party_roles` are the caller's party's roles as stored now, not as his token says.
    """
    if is_admin(principal):
        return True
    return (
        principal.person_id is not None
        and principal.person_role == PersonRole.dispatcher
        and bool(COUNTERPARTY_SEEKERS & party_roles)
    )


def may_see_people_of(principal: Principal, party_id: str) -> bool:
    """Whether the caller may list this party's people: an administrator, the party's API
    client, or one of its dispatchers or administrators (never its drivers or operators)."""
    if is_admin(principal):
        return True
    if principal.party_id != party_id:
        return False
    return principal.person_id is None or principal.person_role in PARTY_VIEWER_ROLES
