"""Spending a gate pass: each `jti` is accepted once, whichever replica sees it.

The database decides, with the `jti` as primary key, in the gate decision's own
transaction: a replay is refused on every replica, and a pass is spent exactly when the
decision that used it is stored.
"""

from datetime import UTC, datetime, timedelta

from sqlmodel.ext.asyncio.session import AsyncSession

from services.release.gate import repository
from shared.gatepass import CLOCK_SKEW_SECONDS, GatePass
from shared.problems import Conflict


async def spend_gate_pass(session: AsyncSession, *, gate_pass: GatePass, now: datetime) -> None:
    """Record the gate pass as used in the caller's transaction; 409 if it was used before."""
    spent = await repository.record_used_gate_pass(
        session,
        jti=gate_pass.jti,
        person_id=gate_pass.person_id,
        party_id=gate_pass.party_id,
        used_at=now,
        expires_at=datetime.fromtimestamp(gate_pass.expires_at + CLOCK_SKEW_SECONDS, UTC),
    )
    if not spent:
        raise Conflict("gate_pass_replayed", "this gate pass has been used already")


async def forget_expired(session: AsyncSession, *, now: datetime) -> int:
    """Drop spent gate passes that could no longer be presented anyway."""
    return await repository.delete_used_gate_passes(
        session, expired_before=now - timedelta(seconds=1)
    )
