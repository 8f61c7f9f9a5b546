"""SQL of the exposure report's identity half: a party's people (keys have their own area)."""

from collections.abc import Sequence

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.identity.people.models import Person


async def people_of(session: AsyncSession, party_id: str) -> Sequence[Person]:
    """Every person of the party, suspended ones included, by role and name."""
    result = await session.exec(
        select(Person)
        .where(col(Person.party_id) == party_id)
        .order_by(col(Person.role), col(Person.name), col(Person.id))
    )
    return result.all()
