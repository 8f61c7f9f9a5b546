"""The transactional outbox: an event is written in the transaction of the change it tells of.

`record` only adds a row to the caller's session, beside the audit event of the change: the
row commits with the change or rolls back with it, so nothing is announced that did not
happen, and nothing that happened is lost. The gate pays one small insert and never waits
for a subscriber; the dispatcher (`dispatcher.py`) fans the row out and delivers later.
"""

import uuid
from datetime import datetime
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from services.release.webhooks.events import EventKind
from services.release.webhooks.models import OutboxEvent
from shared.db import insert_at_commit, table_of
from shared.models import utcnow

_OUTBOX = table_of(OutboxEvent)


def record(
    session: AsyncSession,
    kind: EventKind,
    *,
    release_id: uuid.UUID | None,
    facts: dict[str, Any] | None = None,
    now: datetime | None = None,
    at_commit: bool = False,
) -> None:
    """Add the event to the outbox in the caller's transaction (written with the change).

    The row is visible to the transaction's own reads after a flush; with `at_commit` it
    is written when the transaction commits, with the other rows queued so
    (`shared.db.insert_at_commit`): for the gate, whose transaction never reads it back.
    """
    row: dict[str, Any] = {
        "event_id": uuid.uuid4(),
        "event_type": kind.type,
        "release_id": release_id,
        "facts": facts or {},
        "occurred_at": now or utcnow(),
    }
    if at_commit:
        insert_at_commit(session, _OUTBOX, row)
    else:
        session.add(OutboxEvent(**row))
