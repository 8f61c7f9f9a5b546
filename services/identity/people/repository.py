"""SQL of the people area."""

import uuid
from collections.abc import Sequence
from datetime import date

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.identity.people.models import Person, PersonRole, PersonStatus, PersonSuspension


async def get(session: AsyncSession, person_id: uuid.UUID) -> Person | None:
    """A person by id."""
    return await session.get(Person, person_id)


async def lock(session: AsyncSession, person_id: uuid.UUID) -> Person | None:
    """A person by id, re-read with the row locked until the end of the transaction."""
    result = await session.exec(
        select(Person)
        .where(Person.id == person_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return result.first()


async def username_taken(session: AsyncSession, username: str) -> bool:
    """Whether some person already has this username."""
    result = await session.exec(select(Person.id).where(Person.username == username).limit(1))
    return result.first() is not None


async def screened_drivers(session: AsyncSession, party_id: str, *, on: date) -> Sequence[Person]:
    """The party's active drivers whose screening runs at least through `on`, by name."""
    result = await session.exec(
        select(Person)
        .where(
            col(Person.party_id) == party_id,
            col(Person.role) == PersonRole.driver,
            col(Person.status) == PersonStatus.active,
            # NULL (never screened) compares as unknown, and is left out with the expired.
            col(Person.screened_until) >= on,
        )
        .order_by(col(Person.name), col(Person.id))
    )
    return result.all()


async def open_suspension(session: AsyncSession, person_id: uuid.UUID) -> PersonSuspension | None:
    """The person's suspension not yet lifted, if recorded."""
    result = await session.exec(
        select(PersonSuspension)
        .where(
            col(PersonSuspension.person_id) == person_id,
            col(PersonSuspension.reinstated_at).is_(None),
        )
        .order_by(col(PersonSuspension.suspended_at).desc())
        .limit(1)
    )
    return result.first()
