"""SQL of the parties area: one party, a page of parties, a search, and the party row lock."""

from collections.abc import Sequence

from sqlalchemy import String, case, cast, func, or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.identity.parties.models import Party, PartyStatus


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


async def search_active(
    session: AsyncSession,
    *,
    name_part: str,
    id_prefix: str | None,
    roles: Sequence[str],
    limit: int,
) -> Sequence[Party]:
    """Up to `limit` active parties with one of `roles` whose name contains `name_part`
    (case folded by the database's lower(): every letter on PostgreSQL, ASCII on SQLite) or
    whose id starts with `id_prefix`; names that start with it first, then by name."""
    folded = name_part.lower()
    name = func.lower(col(Party.name))
    matches = name.contains(folded, autoescape=True)
    if id_prefix is not None:
        matches = or_(matches, col(Party.id).startswith(id_prefix, autoescape=True))
    # The roles are a JSON array of fixed names: its text holds `"carrier"` exactly when the
    # party has that role, which reads alike on both databases (no JSON operators needed).
    roles_text = cast(col(Party.roles), String)
    has_role = or_(*(roles_text.contains(f'"{role}"', autoescape=True) for role in roles))
    query = (
        select(Party)
        .where(col(Party.status) == PartyStatus.active, matches, has_role)
        .order_by(
            case((name.startswith(folded, autoescape=True), 0), else_=1),
            name,
            col(Party.id),
        )
        .limit(limit)
    )
    return (await session.exec(query)).all()
