"""Spending a gate pass: each `jti` is accepted once, whichever replica sees it.

The cache answers a replay fast; the database decides (a primary key on the `jti`), so a
replay is refused even when the cache has forgotten or was never told.
"""

from datetime import UTC, datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from services.release.gate.models import UsedGatePass
from shared.cache import Cache
from shared.gatepass import CLOCK_SKEW_SECONDS, GatePass
from shared.problems import Conflict


def _replayed() -> Conflict:
    return Conflict("gate_pass_replayed", "this gate pass has been used already")


async def spend_gate_pass(
    session: AsyncSession, cache: Cache, *, gate_pass: GatePass, now: datetime
) -> None:
    """Record the gate pass as used in the caller's transaction; 409 if it was used before."""
    expires_at = datetime.fromtimestamp(gate_pass.expires_at + CLOCK_SKEW_SECONDS, UTC)
    ttl = max(1.0, (expires_at - now).total_seconds())
    if not await cache.set_if_absent(f"gate-pass:{gate_pass.jti}", "used", ttl):
        raise _replayed()
    try:
        async with session.begin_nested():
            session.add(
                UsedGatePass(
                    jti=gate_pass.jti,
                    person_id=gate_pass.person_id,
                    party_id=gate_pass.party_id,
                    used_at=now,
                    expires_at=expires_at,
                )
            )
    except IntegrityError as exc:
        raise _replayed() from exc


async def forget_expired(session: AsyncSession, *, now: datetime) -> int:
    """Drop spent gate passes that could no longer be presented anyway."""
    result = await session.exec(
        delete(UsedGatePass).where(col(UsedGatePass.expires_at) < now - timedelta(seconds=1))
    )
    return int(result.rowcount or 0)
