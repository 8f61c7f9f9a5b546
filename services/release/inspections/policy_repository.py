"""The SQL of selection policies and daily capacity, and the history the risk factors read.

This module is the one that writes `inspection_policies` and `inspection_capacity_days`.
It reads links and gate decisions (written by their own packages) to tell whether a
carrier is new to the port, a driver has picked up before, or an assignment was withdrawn.
"""

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import insert, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.release.chain.models import Link, LinkKind, LinkStatus
from services.release.gate.models import GateDecision
from services.release.inspections.models import CapacityDay, InspectionPolicy


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


async def first_received(session: AsyncSession, party_id: str) -> datetime | None:
    """When the party first received a step of any chain (its first day in the port)."""
    statement = (
        select(col(Link.created_at))
        .where(col(Link.receiver_party) == party_id)
        .order_by(col(Link.created_at))
        .limit(1)
    )
    return (await session.exec(statement)).first()


async def has_picked_up(session: AsyncSession, driver_id: uuid.UUID) -> bool:
    """Whether the driver has completed a gate-out before."""
    statement = (
        select(col(GateDecision.id))
        .where(
            col(GateDecision.driver_id) == driver_id, col(GateDecision.completed_at).is_not(None)
        )
        .limit(1)
    )
    return (await session.exec(statement)).first() is not None


async def assignment_withdrawn(session: AsyncSession, release_id: uuid.UUID) -> bool:
    """Whether an assignment of the release was withdrawn (its driver was replaced)."""
    statement = (
        select(col(Link.id))
        .where(
            col(Link.release_id) == release_id,
            col(Link.kind) == LinkKind.assignment,
            col(Link.status) == LinkStatus.withdrawn,
        )
        .limit(1)
    )
    return (await session.exec(statement)).first() is not None
