"""Terminals' selection policies: set by port security, audited, versioned; and what a
pickup's risk factors are under them (docs/inspections.md, Risk-weighted selection).

A terminal starts with the deployment's default: base and floor `inspect_probability`,
with the default multipliers below. Its first draw stores that default as the terminal's
version 1 (logged like any other version, set by `DEFAULT_SETTER`), so that every draw
names a logged version and anyone can recompute its probability; from then on, port
security changes the policy through the API, and the setting no longer moves it.
"""

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from services.release.auth import Caller
from services.release.inspections import policy_repository as repository
from services.release.inspections.models import InspectionPolicy
from services.release.inspections.policy_repository import PickupHistory
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
# Who "set" a terminal's first version when it was the deployment's default.
DEFAULT_SETTER: Final = "default"


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


@dataclass(frozen=True)
class Pickup:
    """What the gate knows of the pickup a decision is about."""

    release: Release
    chain_length: int  # links in the release's live chain, the assignment included
    driver_party: str | None
    driver_id: uuid.UUID | None
    requested_by: str  # whoever asked for the decision: never its inspector


async def weigh(
    session: AsyncSession, pickup: Pickup, settings: ReleaseSettings, now: datetime
) -> tuple[RiskPolicy, list[str]]:
    """The policy the pickup is drawn under and the risk factors present, read in one
    statement (two on a terminal's first draw, which stores and logs the default)."""
    terminal_id = pickup.release.terminal_id
    stored, history = await repository.policy_and_history(
        session,
        terminal_id=terminal_id,
        release_id=pickup.release.id,
        driver_party=pickup.driver_party,
        driver_id=pickup.driver_id,
    )
    if stored is None:
        stored = await _store_default(session, terminal_id, settings, now)
    policy = _risk_policy(stored)
    return policy, factors_of(policy, history, pickup, now)


async def _store_default(
    session: AsyncSession, terminal_id: str, settings: ReleaseSettings, now: datetime
) -> InspectionPolicy:
    """The terminal's first version: the deployment's default, stored and logged."""
    stored = await repository.latest_policy(session, terminal_id)
    if stored is None:
        stored = await _store(
            session,
            terminal_id=terminal_id,
            policy=default_policy(settings),
            actor=DEFAULT_SETTER,
            now=now,
        )
        if stored is None:  # another gate stored it a moment ago: that one stands
            stored = await repository.latest_policy(session, terminal_id)
        if stored is None:
            raise Conflict("policy_changed", "the terminal's policy changed meanwhile; ask again")
    return stored


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
    stored = await _store(
        session, terminal_id=terminal_id, policy=policy, actor=caller.principal.actor, now=now
    )
    if stored is None:
        raise Conflict("policy_changed", "another policy was set meanwhile; look again")
    return stored


async def _store(
    session: AsyncSession, *, terminal_id: str, policy: RiskPolicy, actor: str, now: datetime
) -> InspectionPolicy | None:
    """The policy as the terminal's next version, logged; None if that version was taken."""
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
        "actor": actor,
    }
    try:
        # The event and the row stand or fall together: a version lost to a concurrent
        # writer leaves no event behind.
        async with session.begin_nested():
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
                set_by=actor,
                set_at=now,
                event_id=event_id,
            )
            await repository.add_policy(session, stored)
    except IntegrityError:
        return None
    return stored


def factors_of(
    policy: RiskPolicy, history: PickupHistory, pickup: Pickup, now: datetime
) -> list[str]:
    """The factors present for this pickup, sorted (they are part of the draw's input)."""
    present: list[str] = []
    if pickup.driver_party is not None:
        first = history.first_received
        if first is None or now - first < timedelta(days=policy.new_carrier_days):
            present.append(RiskFactor.new_carrier)
    if pickup.chain_length > policy.long_chain_links:
        present.append(RiskFactor.long_chain)
    if history.withdrawn:
        present.append(RiskFactor.driver_reassigned)
    if pickup.driver_id is not None and not history.picked_up:
        present.append(RiskFactor.first_pickup)
    origin = pickup.release.origin
    if origin is not None and origin in policy.origins:
        present.append(RiskFactor.declared_origin)
    return sorted(str(factor) for factor in present)


def port_day(now: datetime, settings: ReleaseSettings) -> str:
    """The port's calendar day of a moment (capacity is counted per local day)."""
    return now.astimezone(ZoneInfo(settings.port_timezone)).date().isoformat()
