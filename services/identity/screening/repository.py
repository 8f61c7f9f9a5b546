"""SQL of integrity screening."""

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, exists, or_, text
from sqlalchemy.orm import aliased
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.identity.people.models import Person, PersonStatus, SuspensionReason
from services.identity.screening.models import IntegrityMatch, ScreeningDocument

# The matching job's advisory lock on PostgreSQL ("KPSCREEN" in ASCII, as a bigint), so
# that two replicas running it at once do not report one pair twice.
_SWEEP_LOCK = 0x4B5053435245454E


@dataclass(frozen=True)
class Pair:
    """A person holding the document of a person suspended for integrity."""

    person_id: uuid.UUID
    party_id: str
    matched_person_id: uuid.UUID
    matched_party_id: str


async def add_documents(
    session: AsyncSession, *, person_id: uuid.UUID, digests: Mapping[str, bytes], now: datetime
) -> None:
    """Keep one document of the person as its hash under each key (a document recorded
    before is not stored twice; his other documents stay)."""
    held = await session.exec(
        select(ScreeningDocument.key_id, ScreeningDocument.digest).where(
            col(ScreeningDocument.person_id) == person_id
        )
    )
    known = {(key_id, bytes(digest)) for key_id, digest in held.all()}
    for key_id, digest in digests.items():
        if (key_id, digest) not in known:
            session.add(
                ScreeningDocument(
                    person_id=person_id, key_id=key_id, digest=digest, recorded_at=now
                )
            )
    await session.flush()


async def suspended_holders(
    session: AsyncSession, *, person_id: uuid.UUID, digests: Mapping[str, bytes]
) -> Sequence[tuple[uuid.UUID, str]]:
    """(id, party) of the other people suspended for integrity whose document hash, under
    any of these keys, is one of `digests`."""
    if not digests:
        return []
    same = [
        and_(col(ScreeningDocument.key_id) == key_id, col(ScreeningDocument.digest) == digest)
        for key_id, digest in digests.items()
    ]
    result = await session.exec(
        select(Person.id, Person.party_id)
        .join(ScreeningDocument, col(ScreeningDocument.person_id) == col(Person.id))
        .where(
            col(Person.id) != person_id,
            or_(*same),
            col(Person.status) == PersonStatus.suspended,
            col(Person.suspension_reason) == SuspensionReason.integrity,
        )
        .distinct()
        .order_by(col(Person.id))
    )
    return [(row[0], row[1]) for row in result.all()]


async def unreported_pairs(session: AsyncSession) -> list[Pair]:
    """Every active person whose document hash equals, under one key, that of a person
    suspended for integrity, where the pair has not been reported yet."""
    held = aliased(ScreeningDocument)
    suspended_document = aliased(ScreeningDocument)
    suspended = aliased(Person)
    statement = (
        select(Person.id, Person.party_id, suspended.id, suspended.party_id)
        .join(held, col(held.person_id) == col(Person.id))
        .join(
            suspended_document,
            and_(
                col(suspended_document.key_id) == col(held.key_id),
                col(suspended_document.digest) == col(held.digest),
                col(suspended_document.person_id) != col(held.person_id),
            ),
        )
        .join(suspended, col(suspended.id) == col(suspended_document.person_id))
        .where(
            col(Person.status) == PersonStatus.active,
            col(suspended.status) == PersonStatus.suspended,
            col(suspended.suspension_reason) == SuspensionReason.integrity,
            ~exists().where(
                col(IntegrityMatch.person_id) == col(Person.id),
                col(IntegrityMatch.matched_person_id) == col(suspended.id),
            ),
        )
        .distinct()
        .order_by(col(Person.id), col(suspended.id))
    )
    result = await session.exec(statement)
    return [Pair(row[0], row[1], row[2], row[3]) for row in result.all()]


async def add_matches(
    session: AsyncSession,
    *,
    person_id: uuid.UUID,
    matched_person_ids: Sequence[uuid.UUID],
    now: datetime,
) -> None:
    """Remember that these pairs are reported."""
    for matched in matched_person_ids:
        session.add(IntegrityMatch(person_id=person_id, matched_person_id=matched, found_at=now))
    await session.flush()


async def lock_sweep(session: AsyncSession) -> None:
    """Hold the matching job's lock until the end of the transaction (PostgreSQL; SQLite's
    transactions begin IMMEDIATE and already are the lock)."""
    if session.get_bind().dialect.name != "postgresql":
        return
    connection = await session.connection()
    await connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SWEEP_LOCK})


async def reported(session: AsyncSession, *, person_id: uuid.UUID) -> set[uuid.UUID]:
    """The suspended people already reported as matches of this person."""
    result = await session.exec(
        select(IntegrityMatch.matched_person_id).where(col(IntegrityMatch.person_id) == person_id)
    )
    return set(result.all())
