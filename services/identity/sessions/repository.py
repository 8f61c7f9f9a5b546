"""SQL of people signing in: finding the person and using up a TOTP time step."""

import uuid
from datetime import datetime

from sqlalchemy import or_, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.identity.parties.models import Party
from services.identity.people.models import Person


async def person_by_username(session: AsyncSession, username: str) -> Person | None:
    """The person with exactly this username, if any."""
    result = await session.exec(select(Person).where(col(Person.username) == username))
    return result.first()


async def get_person(session: AsyncSession, person_id: uuid.UUID) -> Person | None:
    """A person by id."""
    return await session.get(Person, person_id)


async def get_party(session: AsyncSession, party_id: str) -> Party | None:
    """A party by id."""
    return await session.get(Party, party_id)


async def claim_totp_step(
    session: AsyncSession, *, person_id: uuid.UUID, step: int, now: datetime
) -> bool:
    """Record `step` as the person's last used TOTP step; False if it (or a later one) was used.

    One conditional UPDATE, so of concurrent requests with the same code exactly one
    changes the row: PostgreSQL re-checks the condition after waiting for the row lock,
    and SQLite runs writing transactions one at a time.
    """
    result = await session.exec(
        update(Person)
        .where(
            col(Person.id) == person_id,
            or_(col(Person.totp_last_step).is_(None), col(Person.totp_last_step) < step),
        )
        .values(totp_last_step=step, updated_at=now)
        .execution_options(synchronize_session="fetch")
    )
    return result.rowcount == 1
