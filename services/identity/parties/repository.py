"""SQL of the parties area: one party, a page of parties, and the party row lock."""

from collections.abc import Sequence

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.identity.parties.models import Party


async def get(session: AsyncSession, party_id: str) -> Party | None:
    """A party by id."""
    return await session.get(Party, party_id)


async def lock(session: AsyncSession, party_id: str) -> Party | None:
    """A party by id, re-read with its row locked until the end of the transaction."""
    # Status changes, key changes and credential issuance for one party take this lock, so
    # two of them never interleave: a reinstatement cannot overwrite a concurrent revocation,
    # and a credential is never issued VALID beside a suspension that is enumerating the
    # party's credentials. On SQLite every writing transaction already holds the database's
    # write lock.
    result = await session.exec(
        select(Party)
        .where(Party.id == party_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return result.first()


async def page(session: AsyncSession, *, after: str | None, limit: int) -> Sequence[Party]:
    """Up to `limit` parties in id order, starting after the id `after`."""
    query = select(Party).order_by(col(Party.id)).limit(limit)
    if after is not None:
        query = query.where(col(Party.id) > after)
    return (await session.exec(query)).all()
