"""SQL of the party keys area."""

import uuid
from collections.abc import Sequence

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.identity.keys.models import KeyNotice, KeyStatus, PartyKey


async def get(session: AsyncSession, kid: str) -> PartyKey | None:
    """A party key by kid, whatever its party or status."""
    return await session.get(PartyKey, kid)


async def of_party(session: AsyncSession, party_id: str) -> Sequence[PartyKey]:
    """Every key of a party, oldest first."""
    result = await session.exec(
        select(PartyKey)
        .where(PartyKey.party_id == party_id)
        .order_by(col(PartyKey.created_at), col(PartyKey.kid))
    )
    return result.all()


async def active_of_kind(
    session: AsyncSession, party_id: str, *, custodial: bool
) -> Sequence[PartyKey]:
    """The party's active keys of one kind (own or custodial), newest first."""
    result = await session.exec(
        select(PartyKey)
        .where(
            PartyKey.party_id == party_id,
            PartyKey.custodial == custodial,
            PartyKey.status == KeyStatus.active,
        )
        .order_by(col(PartyKey.created_at).desc(), col(PartyKey.kid))
    )
    return result.all()


async def notices(session: AsyncSession, party_id: str, *, limit: int) -> Sequence[KeyNotice]:
    """The party's key notices, newest first, at most `limit`."""
    result = await session.exec(
        select(KeyNotice)
        .where(KeyNotice.party_id == party_id)
        .order_by(col(KeyNotice.id).desc())
        .limit(limit)
    )
    return result.all()


async def of_person(session: AsyncSession, person_id: uuid.UUID) -> Sequence[PartyKey]:
    """Every device key of a person, oldest first, retired ones included."""
    result = await session.exec(
        select(PartyKey)
        .where(col(PartyKey.person_id) == person_id)
        .order_by(col(PartyKey.created_at), col(PartyKey.kid))
    )
    return result.all()


async def people_with_active_device_keys(session: AsyncSession, party_id: str) -> set[uuid.UUID]:
    """The people of the party who hold at least one active device key."""
    result = await session.exec(
        select(PartyKey.person_id)
        .where(
            col(PartyKey.party_id) == party_id,
            col(PartyKey.person_id).is_not(None),
            col(PartyKey.status) == KeyStatus.active,
        )
        .distinct()
    )
    return {person_id for person_id in result.all() if person_id is not None}
