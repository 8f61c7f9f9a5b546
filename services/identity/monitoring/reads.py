"""Port security's reads on the identity service, recorded so that the rules watch them.

The identity service keeps no access log: its reads are of people and keys by their own
parties, which its audit log and rate limits cover. What port security reads here (alerts
and their rules, the yearly figures, a party's exposure) and every refused attempt to read
it are recorded as audit events `security.read` instead: a read is rare enough here for
the log, the log is tamper-evident without a second mechanism, and its events stay in the
database (only commitments are published, docs/audit-log.md), so the reader's name is not
published. The identity rules count them (docs/monitoring.md): a burst of reads by one
person or client, and refused attempts by someone outside port security.

Each read is written in its own short transaction, apart from the request's, so that a
refused read (whose request ends in a 403 or 404) stays on record. Once written it wakes
the rule runner through the cache, at most every
`shared.monitoring.wake.WAKE_SPACING_SECONDS` per process.
"""

from collections.abc import Awaitable, Callable
from datetime import datetime

from shared.audit import events
from shared.auth import Principal
from shared.db import SessionFactory, transaction
from shared.monitoring.wake import wake_after_read
from shared.request_scope import current_endpoint

SECURITY_READ = "security.read"


async def record_security_read(
    sessions: SessionFactory,
    principal: Principal,
    *,
    action: str,
    outcome: str,
    now: datetime,
    results: int = 0,
    about: str | None = None,
) -> None:
    """Append `security.read`: who (actor, party, person), what (`action`, and `about`: the
    party or year asked for), the answer (`ok`, `not_found`, `refused`; how many results),
    when (the request's instant) and through which endpoint."""
    async with transaction(sessions) as session:
        await events.append(
            session,
            SECURITY_READ,
            {
                "actor": principal.actor,
                "party_id": principal.party_id,
                "person_id": str(principal.person_id) if principal.person_id else None,
                "action": action,
                "about": about,
                "outcome": outcome,
                "results": results,
                "read_at": now.isoformat(),
                "endpoint": current_endpoint(),
            },
        )
    await wake_after_read()


def recorder(
    sessions: SessionFactory,
    principal: Principal,
    *,
    action: str,
    now: datetime,
    about: str | None = None,
) -> Callable[..., Awaitable[None]]:
    """`record_security_read` for one request, waiting for its outcome (and result count):
    an endpoint records `ok` once it answers, or the refusal it raises."""

    async def recorded(outcome: str, results: int = 0) -> None:
        await record_security_read(
            sessions,
            principal,
            action=action,
            outcome=outcome,
            now=now,
            results=results,
            about=about,
        )

    return recorded
