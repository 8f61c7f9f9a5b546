"""The SQL of selection policies and daily capacity, and the history the risk factors read.

This module is the one that writes `inspection_policies` and `inspection_capacity_days`.
It reads links and gate decisions (written by their own packages) to tell whether a
carrier is new to the port, a driver has picked up before, or an assignment was withdrawn.
"""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, exists, insert, update
from sqlalchemy import select as select_columns
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.release.chain.models import Link, LinkKind, LinkStatus
from services.release.gate.models import GateDecision
from services.release.inspections.models import CapacityDay, InspectionPolicy
from shared.db import table_of


async def latest_policy(session: AsyncSession, terminal_id: str) -> InspectionPolicy | None:
    """The terminal's current policy (its highest version), if port security set one."""
    statement = (
        select(InspectionPolicy)
        .where(col(InspectionPolicy.terminal_id) == terminal_id)
        .order_by(col(InspectionPolicy.version).desc())
        .limit(1)
    )
    return (await session.exec(statement)).first()


async def policy_versions(session: AsyncSession, terminal_id: str) -> Sequence[InspectionPolicy]:
    """Every version of the terminal's policy, oldest first."""
    statement = (
        select(InspectionPolicy)
        .where(col(InspectionPolicy.terminal_id) == terminal_id)
        .order_by(col(InspectionPolicy.version))
    )
    return (await session.exec(statement)).all()


async def add_policy(session: AsyncSession, policy: InspectionPolicy) -> None:
    """Store a new version (IntegrityError when another took that version number first:
    the caller's savepoint undoes its event with it)."""
    session.add(policy)
    await session.flush()


async def claim_capacity(session: AsyncSession, terminal_id: str, day: str, capacity: int) -> bool:
    """Count one inspection against the terminal's day; False when the day is full.

    One conditional update decides, so two gates selecting at once cannot both take the
    last place: the second waits for the first's row lock and then finds the day full.
    """
    exists = select(CapacityDay).where(
        col(CapacityDay.terminal_id) == terminal_id, col(CapacityDay.day) == day
    )
    if (await session.exec(exists)).first() is None:
        try:
            async with session.begin_nested():
                await session.exec(
                    insert(CapacityDay).values(terminal_id=terminal_id, day=day, used=0)
                )
        except IntegrityError:
            pass  # another gate counted the day's first one: its row is as good
    result = await session.exec(
        update(CapacityDay)
        .where(
            col(CapacityDay.terminal_id) == terminal_id,
            col(CapacityDay.day) == day,
            col(CapacityDay.used) < capacity,
        )
        .values(used=col(CapacityDay.used) + 1)
    )
    return bool(result.rowcount)


async def used_on(session: AsyncSession, terminal_id: str, day: str) -> int:
    """Selections counted against the terminal's capacity on that day."""
    found = await session.get(CapacityDay, (terminal_id, day))
    return 0 if found is None else found.used


_policies = table_of(InspectionPolicy)
_links = table_of(Link)
_decisions = table_of(GateDecision)


@dataclass(frozen=True)
class PickupHistory:
    """What the risk factors read of the past: when the driver's party first received a
    step, whether an assignment of the release was withdrawn, whether the driver has
    completed a gate-out before."""

    first_received: datetime | None
    withdrawn: bool
    picked_up: bool


_HISTORY = (
    select_columns(_links.c.created_at)
    .where(_links.c.receiver_party == bindparam("party"))
    .order_by(_links.c.created_at)
    .limit(1)
    .scalar_subquery()
    .label("first_received"),
    exists()
    .where(
        _links.c.release_id == bindparam("release_id"),
        _links.c.kind == LinkKind.assignment,
        _links.c.status == LinkStatus.withdrawn,
    )
    .label("withdrawn"),
    exists()
    .where(
        _decisions.c.driver_id == bindparam("driver_id"),
        _decisions.c.completed_at.is_not(None),
    )
    .label("picked_up"),
)
# The terminal's latest policy with the pickup's history: one round trip at the gate.
_POLICY_AND_HISTORY = (
    select_columns(_policies, *_HISTORY)
    .where(_policies.c.terminal_id == bindparam("terminal"))
    .order_by(_policies.c.version.desc())
    .limit(1)
)
_HISTORY_ONLY = select_columns(*_HISTORY)


async def policy_and_history(
    session: AsyncSession,
    *,
    terminal_id: str,
    release_id: uuid.UUID,
    driver_party: str | None,
    driver_id: uuid.UUID | None,
) -> tuple[InspectionPolicy | None, PickupHistory]:
    """The terminal's latest policy (None if it has none yet) and the pickup's history."""
    params = {
        "terminal": terminal_id,
        "release_id": release_id,
        "party": driver_party,
        "driver_id": driver_id,
    }
    statement: Any = _POLICY_AND_HISTORY
    row = (await session.exec(statement, params=params)).first()
    if row is None:
        statement = _HISTORY_ONLY
        row = (await session.exec(statement, params=params)).one()
        return None, _history(row._mapping)
    found = row._mapping
    policy = InspectionPolicy(**{column.name: found[column] for column in _policies.columns})
    return policy, _history(found)


def _history(row: Any) -> PickupHistory:
    return PickupHistory(
        first_received=row["first_received"],
        withdrawn=bool(row["withdrawn"]),
        picked_up=bool(row["picked_up"]),
    )
