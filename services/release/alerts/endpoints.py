"""Alerts and monitoring rules over HTTP: the shared API, with the release service's caller.

Readers: port security's officers and its client with `alerts:read`; acting (acknowledge,
close, thresholds): its officers only (shared.monitoring.auth). Every read is recorded in
the access log, refusals too, so port security's own reads are watched by the rules; a
read of one alert records one row per container its facts name, so "who knew?" finds the
officers who read about the container.
"""

from datetime import datetime

from fastapi import Request

from services.release.access.service import record_read, record_shown
from services.release.auth import Caller
from services.release.deps import CurrentCaller, current_time
from shared.auth import Principal
from shared.monitoring.endpoints import Read, alerts_router


async def caller_principal(caller: CurrentCaller) -> Principal:
    """The verified caller; the router judges whether he may read or act."""
    return caller.principal


async def record(request: Request, principal: Principal, read: Read, now: datetime) -> None:
    """A read of alerts or rules, in the access log like any read."""
    sessions, caller = request.app.state.sessions, Caller(principal, token="")
    if read.containers:
        shown = [(None, container) for container in read.containers]
        await record_shown(sessions, caller, action=read.action, shown=shown, now=now)
        return
    await record_read(
        sessions, caller, action=read.action, outcome=read.outcome, now=now, results=read.results
    )


router = alerts_router(caller=caller_principal, now=current_time, record=record)
