"""Terminals' selection policies: set by port security, audited, versioned; and what a
pickup's risk factors are under them (docs/inspections.md, Risk-weighted selection).

A terminal without a policy of its own draws under the deployment's default (version 0):
the base and the floor are `inspect_probability`, with the default multipliers below.
"""

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from sqlmodel.ext.asyncio.session import AsyncSession

from services.release.auth import Caller
from services.release.inspections import policy_repository as repository
from services.release.inspections.models import InspectionPolicy
from services.release.inspections.risk import RiskFactor, RiskPolicy
from services.release.releases.models import Release
from services.release.settings import ReleaseSettings
from shared.audit.events import append
from shared.problems import Conflict, InvalidInput

DEFAULT_WEIGHTS: Final[Mapping[str, float]] = {
    RiskFactor.new_carrier: 2.0,
    RiskFactor.long_chain: 2.0,
    RiskFactor.driver_reassigned: 3.0,
    RiskFactor.first_pickup: 1.5,
    RiskFactor.declared_origin: 3.0,
}
# A multiplier above this is a policy of inspecting everything with the factor: say so
# with base and floor, not with a weight nobody reads as such.
MAX_WEIGHT: Final = 1000.0


def default_policy(settings: ReleaseSettings) -> RiskPolicy:
    """The policy of a terminal port security has set none for."""
    return RiskPolicy(
        base=settings.inspect_probability,
        floor=settings.inspect_probability,
        weights=DEFAULT_WEIGHTS,
    )


def _risk_policy(stored: InspectionPolicy) -> RiskPolicy:
    return RiskPolicy(
        base=stored.base,
        floor=stored.floor,
        weights=dict(stored.weights),
        origins=frozenset(stored.origins),
        long_chain_links=stored.long_chain_links,
        new_carrier_days=stored.new_carrier_days,
        daily_capacity=stored.daily_capacity,
        version=stored.version,
    )


async def policy_with_use(
    session: AsyncSession, terminal_id: str, settings: ReleaseSettings, now: datetime
) -> tuple[RiskPolicy, InspectionPolicy | None, int]:
    """The terminal's policy now, its stored version (None: the default), and how much of
    today's capacity is used."""
    stored = await repository.latest_policy(session, terminal_id)
    policy = default_policy(settings) if stored is None else _risk_policy(stored)
    used = await repository.used_on(session, terminal_id, port_day(now, settings))
    return policy, stored, used


async def current_policy(
    session: AsyncSession, terminal_id: str, settings: ReleaseSettings
) -> RiskPolicy:
    """The terminal's policy now."""
    stored = await repository.latest_policy(session, terminal_id)
    return default_policy(settings) if stored is None else _risk_policy(stored)


def check_policy(policy: RiskPolicy, settings: ReleaseSettings) -> None:
    """422 unless the policy keeps every container selectable (see `risk`)."""
    if policy.floor < settings.inspect_floor_minimum:
        raise InvalidInput(
            "floor_too_low",
            f"the floor may not be below the deployment's minimum {settings.inspect_floor_minimum}",
        )
    if policy.floor > policy.base:
        raise InvalidInput("floor_above_base", "the floor may not be above the base probability")
    for factor, weight in policy.weights.items():
        if not 1.0 <= weight <= MAX_WEIGHT:
            raise InvalidInput(
                "weight_invalid",
                f"the multiplier of {factor} must lie in [1, {MAX_WEIGHT:g}]: "
                "a factor can only raise the probability",
            )


async def set_policy(
    session: AsyncSession,
    *,
    caller: Caller,
    terminal_id: str,
    policy: RiskPolicy,
    settings: ReleaseSettings,
    now: datetime,
) -> InspectionPolicy:
    """Store the policy as the terminal's next version and log it with who set it."""
    check_policy(policy, settings)
    latest = await repository.latest_policy(session, terminal_id)
    version = 1 if latest is None else latest.version + 1
    weights = dict(sorted(policy.weights.items()))
    origins = sorted(policy.origins)
    facts = {
        "terminal": terminal_id,
        "version": version,
        "base": policy.base,
        "floor": policy.floor,
        "weights": weights,
        "origins": origins,
        "long_chain_links": policy.long_chain_links,
        "new_carrier_days": policy.new_carrier_days,
        "daily_capacity": policy.daily_capacity,
        "actor": caller.principal.actor,
    }
    event_id = await append(session, "inspection.policy_set", facts)
    stored = InspectionPolicy(
        terminal_id=terminal_id,
        version=version,
        base=policy.base,
        floor=policy.floor,
        weights=weights,
        origins=origins,
        long_chain_links=policy.long_chain_links,
        new_carrier_days=policy.new_carrier_days,
        daily_capacity=policy.daily_capacity,
        set_by=caller.principal.actor,
        set_at=now,
        event_id=event_id,
    )
    if not await repository.add_policy(session, stored):
        raise Conflict("policy_changed", "another policy was set meanwhile; look again")
    return stored


async def risk_factors(
    session: AsyncSession,
    policy: RiskPolicy,
    *,
    release: Release,
    links: Sequence[object],
    driver_party: str | None,
    driver_id: uuid.UUID | None,
    now: datetime,
) -> list[str]:
    """The factors present for this pickup, sorted (they are part of the draw's input)."""
    present: list[str] = []
    if driver_party is not None:
        first = await repository.first_received(session, driver_party)
        if first is None or now - first < timedelta(days=policy.new_carrier_days):
            present.append(RiskFactor.new_carrier)
    if len(links) > policy.long_chain_links:
        present.append(RiskFactor.long_chain)
    if await repository.assignment_withdrawn(session, release.id):
        present.append(RiskFactor.driver_reassigned)
    if driver_id is not None and not await repository.has_picked_up(session, driver_id):
        present.append(RiskFactor.first_pickup)
    if release.origin is not None and release.origin in policy.origins:
        present.append(RiskFactor.declared_origin)
    return sorted(str(factor) for factor in present)


def port_day(now: datetime, settings: ReleaseSettings) -> str:
    """The port's calendar day of a moment (capacity is counted per local day)."""
    return now.astimezone(ZoneInfo(settings.port_timezone)).date().isoformat()
