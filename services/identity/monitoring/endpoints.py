"""The identity service's alerts and rules over HTTP: the shared API with its own caller.

Readers: port security's officers and its client with `alerts:read`; acting: its officers
(shared.monitoring.auth). Each read, and each refused attempt, is recorded as an audit
event `security.read` (monitoring/reads.py), which the identity rules watch.
"""

from datetime import datetime

from fastapi import Request

from services.identity.deps import ReadingPrincipal, current_utc_datetime
from services.identity.monitoring.reads import record_security_read
from shared.auth import Principal
from shared.monitoring.endpoints import Read, alerts_router


async def caller_principal(principal: ReadingPrincipal) -> Principal:
    """The verified caller; the router judges whether he may read or act."""
    return principal


async def record(request: Request, principal: Principal, read: Read, now: datetime) -> None:
    """A read of alerts or rules (or a refused attempt), as `security.read`."""
    await record_security_read(
        request.app.state.sessions,
        principal,
        action=read.action,
        outcome=read.outcome,
        now=now,
        results=read.results,
    )


router = alerts_router(caller=caller_principal, now=current_utc_datetime, record=record)
