"""Recording reads of release data (DESIGN §8: protective monitoring starts here).

Each entry is written in its own short transaction, apart from the request's: a read that
ends in a 404 rolls the request back, and exactly those attempts must stay on record.
"""

import uuid

from services.release.access.models import AccessLogEntry
from services.release.deps import Caller
from shared.db import SessionFactory, transaction
from shared.models import utcnow


async def record_read(
    sessions: SessionFactory,
    caller: Caller,
    *,
    action: str,
    outcome: str,
    release_id: uuid.UUID | None = None,
    container: str | None = None,
    results: int = 0,
) -> None:
    """Record who read (or tried to read) what, when, for which party."""
    principal = caller.principal
    async with transaction(sessions) as session:
        session.add(
            AccessLogEntry(
                at=utcnow(),
                actor=principal.actor,
                party_id=principal.party_id,
                person_id=principal.person_id,
                action=action,
                release_id=release_id,
                container=container,
                outcome=outcome,
                results=results,
            )
        )
