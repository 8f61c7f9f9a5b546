"""Terminals' selection policies over HTTP (docs/inspections.md, Risk-weighted selection).

Who may do what:

- read a terminal's policy: customs and port security (the overseers). Not the terminal,
  carriers or drivers: whoever knows the weights knows which pickups to avoid looking like;
- set it: port security only. Every version is kept and logged with who set it, and a
  policy that would leave any container unselectable is refused (`risk`).
"""

from typing import Annotated

from fastapi import APIRouter, Depends, Path

from services.release.auth import Caller
from services.release.deps import NowDep, SettingsDep, require
from services.release.inspections import policy, policy_repository
from services.release.inspections.models import InspectionPolicy
from services.release.inspections.policy_schemas import (
    PolicySet,
    PolicyVersion,
    PolicyVersions,
    PolicyView,
)
from services.release.inspections.risk import RiskPolicy
from shared.audit import repository as audit_log
from shared.deps import ReadSessionDep, SessionDep
from shared.problems import problem_responses

router = APIRouter(prefix="/v1/inspections/policies", tags=["inspections"])

PortSecurity = Annotated[Caller, Depends(require("inspections", "port_security"))]
Overseer = Annotated[Caller, Depends(require("inspections", "customs", "port_security"))]
TerminalId = Annotated[str, Path(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9.:_-]+$")]


def _view(
    terminal: str, current: RiskPolicy, stored: InspectionPolicy | None, used: int
) -> PolicyView:
    return PolicyView(
        terminal=terminal,
        version=current.version,
        base=current.base,
        floor=current.floor,
        weights=dict(sorted(current.weights.items())),
        origins=sorted(current.origins),
        long_chain_links=current.long_chain_links,
        new_carrier_days=current.new_carrier_days,
        daily_capacity=current.daily_capacity,
        set_by=stored.set_by if stored else None,
        set_at=stored.set_at if stored else None,
        used_today=used,
    )


@router.get(
    "/{terminal_id}",
    summary="A terminal's selection policy (customs, port security)",
    responses=problem_responses(401, 403, 422, 503),
)
async def get_policy(
    terminal_id: TerminalId,
    caller: Overseer,
    session: ReadSessionDep,
    settings: SettingsDep,
    now: NowDep,
) -> PolicyView:
    """Version 0 is the deployment's default, for a terminal with no policy of its own."""
    current, stored, used = await policy.policy_with_use(session, terminal_id, settings, now)
    return _view(terminal_id, current, stored, used)


@router.get(
    "/{terminal_id}/versions",
    summary="Every version of a terminal's policy, as logged (customs, port security)",
    responses=problem_responses(401, 403, 422, 503),
)
async def policy_versions(
    terminal_id: TerminalId, caller: Overseer, session: ReadSessionDep
) -> PolicyVersions:
    """So that whoever checks the draws can recompute each one's probability from the
    version and factors it names (`ketenpas inspections verify`)."""
    found = await policy_repository.policy_versions(session, terminal_id)
    logged = await audit_log.events_by_ids(session, [item.event_id for item in found])
    return PolicyVersions(
        versions=[
            PolicyVersion.of(item, event.event if (event := logged.get(item.event_id)) else None)
            for item in found
        ]
    )


@router.put(
    "/{terminal_id}",
    summary="Set a terminal's selection policy (port security)",
    responses=problem_responses(401, 403, 409, 422, 503),
)
async def set_policy(
    terminal_id: TerminalId,
    body: PolicySet,
    caller: PortSecurity,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
) -> PolicyView:
    """The next version, from the next gate decision on. 422 `floor_too_low` below the
    deployment's minimum, `floor_above_base`, `weight_invalid` for a multiplier outside
    [1, 1000]; 409 `policy_changed` when another version was set at the same moment."""
    await policy.set_policy(
        session,
        caller=caller,
        terminal_id=terminal_id,
        policy=body.policy(),
        settings=settings,
        now=now,
    )
    current, stored, used = await policy.policy_with_use(session, terminal_id, settings, now)
    return _view(terminal_id, current, stored, used)
