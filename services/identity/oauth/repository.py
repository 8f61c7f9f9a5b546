"""SQL of the token endpoint: the client's key and party, and one-time use of assertions."""

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.identity.keys.models import KeyStatus, PartyKey
from services.identity.oauth.models import UsedAssertion
from services.identity.parties.models import Party


async def get_party_key(session: AsyncSession, kid: str) -> PartyKey | None:
    """A party's registered key by kid, whatever its party or status."""
    return await session.get(PartyKey, kid)


async def active_client_keys(
    session: AsyncSession, party_id: str, *, limit: int
) -> Sequence[PartyKey]:
    """At most `limit` of the party's active keys that are not a person's device key."""
    result = await session.exec(
        select(PartyKey)
        .where(
            PartyKey.party_id == party_id,
            PartyKey.status == KeyStatus.active,
            col(PartyKey.person_id).is_(None),
        )
        .order_by(col(PartyKey.created_at).desc(), col(PartyKey.kid))
        .limit(limit)
    )
    return result.all()


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
