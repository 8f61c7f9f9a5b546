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
