"""The identity service's alerts and rules over HTTP: the shared API with its own caller.

Readers: port security's officers and its client with `alerts:read`; acting: its officers
(shared.monitoring.auth). The identity service keeps no access log: reads of its alerts are
not recorded (its alerts name people and addresses, not containers).
"""

from datetime import datetime

from fastapi import Request

from services.identity.deps import CurrentPrincipal, current_utc_datetime
from shared.auth import Principal
from shared.monitoring.auth import check_officer, check_reader
from shared.monitoring.endpoints import alerts_router


async def port_security_reader(principal: CurrentPrincipal) -> Principal:
    """A caller who may read alerts; 403 otherwise."""
    return check_reader(principal)


async def port_security_officer(principal: CurrentPrincipal) -> Principal:
    """An officer of port security; 403 otherwise."""
    return check_officer(principal)


async def no_record(
    request: Request, principal: Principal, action: str, results: int, now: datetime
) -> None:
    """Nothing to record: the identity service has no access log."""


router = alerts_router(
    reader=port_security_reader,
    officer=port_security_officer,
    now=current_utc_datetime,
    record=no_record,
)
