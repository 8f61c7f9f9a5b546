"""Integrity screening: a person's identity document kept as keyed hashes, and the people
suspended for integrity who hold the same document found, whatever their party or name.

What port security learns is an audit event, `integrity.match_found`, naming ids only (the
person, his party, the suspended people he matches and their parties); a monitoring rule
turns it into an alert. What the registering administrator learns is nothing: the
registration is neither refused nor answered differently, and every recorded document
appends exactly one screening event, `integrity.match_found` or `integrity.screened`, so
that even the public log's size does not tell a match (an event's type is hidden in its
salted commitment, docs/audit-log.md). No endpoint takes a document to answer whether its
holder is suspended: only this module compares hashes.

The scheduled job (`sweep`) catches what a registration cannot see: a person suspended for
integrity after the other was registered, a person reinstated (he is screened again from
then), hashes made under a key retired since. Each pair is reported once.
"""

import uuid
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime

import structlog
from sqlmodel.ext.asyncio.session import AsyncSession

from services.identity.people.models import Person
from services.identity.screening import repository
from services.identity.screening.hashing import IdentityDocument, ScreeningKeys
from services.identity.screening.repository import Pair
from shared.audit.events import append

logger = structlog.get_logger(__name__)

MATCH_EVENT = "integrity.match_found"
SCREENED_EVENT = "integrity.screened"
JOB_ACTOR = "screening-job"


def _ids(values: Iterable[object]) -> list[str]:
    return sorted({str(value) for value in values})


async def _report(
    session: AsyncSession,
    *,
    person_id: uuid.UUID,
    party_id: str,
    matches: list[tuple[uuid.UUID, str]],
    trigger: str,
    actor: str,
) -> None:
    await append(
        session,
        MATCH_EVENT,
        {
            "person_id": str(person_id),
            "party_id": party_id,
            "matched_person_ids": _ids(matched for matched, _ in matches),
            "matched_party_ids": _ids(party for _, party in matches),
            "trigger": trigger,
            "actor": actor,
        },
    )
    # Ids only, like the event: never the document or its hash.
    logger.warning(
        "integrity_match_found", person_id=str(person_id), party_id=party_id, trigger=trigger
    )


async def record_document(
    session: AsyncSession,
    *,
    person: Person,
    document: IdentityDocument,
    keys: ScreeningKeys,
    trigger: str,
    actor: str,
    now: datetime,
) -> None:
    """Keep one of the person's documents as its hash under every key (beside any other
    of his documents: a passport, an identity card, a driving licence each identify him),
    and screen it now, in the caller's transaction: one screening event, whether a match
    is found or not."""
    digests = keys.digests(document)
    await repository.add_documents(session, person_id=person.id, digests=digests, now=now)
    holders = list(
        await repository.suspended_holders(session, person_id=person.id, digests=digests)
    )
    if not holders:
        await append(
            session,
            SCREENED_EVENT,
            {
                "person_id": str(person.id),
                "party_id": person.party_id,
                "trigger": trigger,
                "actor": actor,
            },
        )
        return
    known = await repository.reported(session, person_id=person.id)
    await repository.add_matches(
        session,
        person_id=person.id,
        matched_person_ids=[matched for matched, _ in holders if matched not in known],
        now=now,
    )
    await _report(
        session,
        person_id=person.id,
        party_id=person.party_id,
        matches=holders,
        trigger=trigger,
        actor=actor,
    )


async def sweep(*, session: AsyncSession, now: datetime) -> int:
    """Report every active person holding the document of a person suspended for integrity,
    each pair once; how many people were reported. Runs in the caller's transaction, one
    run at a time across replicas."""
    await repository.lock_sweep(session)
    pairs = await repository.unreported_pairs(session)
    by_person: dict[uuid.UUID, list[Pair]] = defaultdict(list)
    for pair in pairs:
        by_person[pair.person_id].append(pair)
    for person_id, found in by_person.items():
        await repository.add_matches(
            session,
            person_id=person_id,
            matched_person_ids=[pair.matched_person_id for pair in found],
            now=now,
        )
        await _report(
            session,
            person_id=person_id,
            party_id=found[0].party_id,
            matches=[(pair.matched_person_id, pair.matched_party_id) for pair in found],
            trigger="sweep",
            actor=JOB_ACTOR,
        )
    logger.info("integrity_sweep_done", reported=len(by_person))
    return len(by_person)
