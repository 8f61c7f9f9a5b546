"""SQL of the token endpoint: the client's key and party, and one-time use of assertions."""

from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from services.identity.keys.models import PartyKey
from services.identity.oauth.models import UsedAssertion
from services.identity.parties.models import Party


async def get_party_key(session: AsyncSession, kid: str) -> PartyKey | None:
    """A party's registered key by kid, whatever its party or status."""
    return await session.get(PartyKey, kid)


async def get_party(session: AsyncSession, party_id: str) -> Party | None:
    """A party by id."""
    return await session.get(Party, party_id)


async def record_assertion(
    session: AsyncSession, *, party_id: str, jti: str, expires_at: datetime
) -> bool:
    """Mark the party's assertion `jti` as used; False if it already was."""
    # The savepoint confines a duplicate-key error: on PostgreSQL a failed statement
    # aborts the whole transaction, and the caller still has to answer (and may write).
    try:
        async with session.begin_nested():
            session.add(UsedAssertion(party_id=party_id, jti=jti, expires_at=expires_at))
    except IntegrityError:
        return False
    return True


async def purge_used_assertions(session: AsyncSession, *, before: datetime) -> int:
    """Forget used assertions that expired before `before`; returns how many."""
    result = await session.exec(delete(UsedAssertion).where(col(UsedAssertion.expires_at) < before))
    return int(result.rowcount)
