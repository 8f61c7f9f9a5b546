"""Alerts and monitoring rules over HTTP: the shared API, with the release service's caller.

Readers: port security's officers and its client with `alerts:read`; acting (acknowledge,
close, thresholds): its officers only (shared.monitoring.auth). Every read is recorded in
the access log, so port security's own reads are watched by the rules too.
"""

from datetime import datetime

from fastapi import Request

from services.release.access.service import record_read
from services.release.auth import Caller
from services.release.deps import CurrentCaller, current_time
from shared.auth import Principal
from shared.monitoring.auth import check_officer, check_reader
from shared.monitoring.endpoints import alerts_router


async def port_security_reader(caller: CurrentCaller) -> Principal:
    """A caller who may read alerts; 403 otherwise."""
    return check_reader(caller.principal)


async def port_security_officer(caller: CurrentCaller) -> Principal:
    """An officer of port security; 403 otherwise."""
    return check_officer(caller.principal)


async def record(
    request: Request, principal: Principal, action: str, results: int, now: datetime
) -> None:
    """A read of alerts or rules, in the access log like any read."""
    await record_read(
        request.app.state.sessions,
        Caller(principal, token=""),
        action=action,
        outcome="ok",
        now=now,
        results=results,
    )


router = alerts_router(
    reader=port_security_reader,
    officer=port_security_officer,
    now=current_time,
    record=record,
)
