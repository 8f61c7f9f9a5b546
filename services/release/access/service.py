"""Recording reads of release data (docs/design.md, Protective monitoring: it starts here).

Each entry is written in its own short transaction, apart from the request's: a read that
ends in a 404 rolls the request back, and exactly those attempts must stay on record. A
request that changes state and answers with release data records the read in its own
transaction instead (`add_read`): it commits with the answer, and on SQLite a second writer
would wait for the request's write lock.

Each entry is stamped with the request's time (`now`, from `deps.NowDep`), the one instant
its handler decided at, so the log and what it logs agree, and with the endpoint it came
through (`endpoint.current_endpoint`, the route's method and path template).

A listing that shows several containers is one entry per container shown (`record_shown`),
so that "who knew?" finds a listing as it finds a read.

Once recorded, a read wakes the monitoring rules through the cache (at most every
`shared.monitoring.wake.WAKE_SPACING_SECONDS` per process), so an alert follows a
suspicious read within a look rather than a poll.
"""

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from services.release.access.models import AccessLogEntry
from services.release.auth import Caller
from shared.db import SessionFactory, transaction
from shared.monitoring.wake import wake_after_read
from shared.request_scope import current_endpoint


def _entry(
    caller: Caller,
    *,
    action: str,
    outcome: str,
    release_id: uuid.UUID | None,
    container: str | None,
    results: int,
    now: datetime,
) -> AccessLogEntry:
    principal = caller.principal
    return AccessLogEntry(
        at=now,
        actor=principal.actor,
        party_id=principal.party_id,
        person_id=principal.person_id,
        action=action,
        release_id=release_id,
        container=container,
        outcome=outcome,
        results=results,
        endpoint=current_endpoint(),
    )


def add_read(
    session: AsyncSession,
    caller: Caller,
    *,
    action: str,
    release_id: uuid.UUID,
    container: str,
    now: datetime,
) -> None:
    """Record a read shown by a change, in the request's transaction."""
    session.add(
        _entry(
            caller,
            action=action,
            outcome="shown",
            release_id=release_id,
            container=container,
            results=1,
            now=now,
        )
    )


async def record_read(
    sessions: SessionFactory,
    caller: Caller,
    *,
    action: str,
    outcome: str,
    now: datetime,
    release_id: uuid.UUID | None = None,
    container: str | None = None,
    results: int = 0,
) -> None:
    """Record who read (or tried to read) what, when, for which party."""
    async with transaction(sessions) as session:
        session.add(
            _entry(
                caller,
                action=action,
                outcome=outcome,
                release_id=release_id,
                container=container,
                results=results,
                now=now,
            )
        )
    await wake_after_read()


async def record_shown(
    sessions: SessionFactory,
    caller: Caller,
    *,
    action: str,
    shown: Sequence[tuple[uuid.UUID | None, str]],
    now: datetime,
) -> None:
    """Record a listing: one `shown` entry per (release id, container) it showed, or one
    `not_found` entry when it showed none."""
    if not shown:
        await record_read(sessions, caller, action=action, outcome="not_found", now=now)
        return
    async with transaction(sessions) as session:
        for release_id, container in shown:
            session.add(
                _entry(
                    caller,
                    action=action,
                    outcome="shown",
                    release_id=release_id,
                    container=container,
                    results=1,
                    now=now,
                )
            )
    await wake_after_read()
