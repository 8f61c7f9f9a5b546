"""SQL of the gate's hot path: few round trips, plain rows, no ORM objects.

A pickup is two requests and each is a handful of statements; at a busy gate the ORM's
loading and unit-of-work bookkeeping cost more CPU than the statements themselves. So the
gate reads what it needs in one statement (the open release, its holds and its live links)
and writes with conditional `UPDATE`s whose row counts say whether it won, in the spirit of
`shared.db.insert_once`. The rare paths (an unknown decision, a conflict) ask again with the
ordinary queries to say precisely why. The release's own move to `picked_up` is written by
the releases repository (`mark_picked_up`), the one module that writes the `releases` table.

The statements are built once, with bound parameters, and executed with the values: a
statement built per request with the values in it costs SQLAlchemy a fresh cache key (it
walks the values) every time: about 6% of the service's CPU under load, in a profile.
"""

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, delete, exists, select, update
from sqlmodel import col
from sqlmodel import select as select_models
from sqlmodel.ext.asyncio.session import AsyncSession

from services.release.chain.models import LIVE_STATUSES, Link
from services.release.chain.verify import StoredLink
from services.release.gate.models import (
    Decision,
    GateDecision,
    GateOut,
    JudgedStatusList,
    UsedGatePass,
)
from services.release.releases.models import Hold, HoldKind, Release, ReleaseStatus
from shared.db import insert_at_commit, insert_once, table_of
from shared.paging import keyset_page

releases = table_of(Release)
links = table_of(Link)
holds = table_of(Hold)
decisions = table_of(GateDecision)


@dataclass(frozen=True)
class ReleaseAtGate:
    """The open release of a container with what the gate checks: holds and the chain."""

    release: Release
    holds: tuple[str, ...]  # the kinds of hold placed, in HoldKind order
    links: tuple[StoredLink, ...]  # the live links in seq order


def _hold_placed(kind: HoldKind) -> Any:
    return (
        exists()
        .where(holds.c.release_id == releases.c.id, holds.c.kind == kind)
        .label(f"hold_{kind}")
    )


_LINK_COLUMNS = ("seq", "jws", "status", "ack", "receiver_party")

_OPEN_RELEASE_WITH_CHAIN = (
    select(
        releases,
        *(_hold_placed(kind) for kind in HoldKind),
        *(links.c[name].label(f"link_{name}") for name in _LINK_COLUMNS),
        links.c.created_at.label("link_created_at"),
        links.c.decided_at.label("link_decided_at"),
    )
    .outerjoin(links, and_(links.c.release_id == releases.c.id, links.c.status.in_(LIVE_STATUSES)))
    .where(releases.c.container == bindparam("container"))
    .where(releases.c.status == ReleaseStatus.open)
    .order_by(links.c.seq)
)


def _timestamp(moment: datetime | None) -> float | None:
    return None if moment is None else moment.timestamp()


async def open_release_at_gate(session: AsyncSession, container: str) -> ReleaseAtGate | None:
    """The open release of the container (there is at most one), in one round trip."""
    # A plain SQLAlchemy select of columns: SQLModel's `exec` is typed for its own selects.
    statement: Any = _OPEN_RELEASE_WITH_CHAIN
    rows: Sequence[Any] = (await session.exec(statement, params={"container": container})).all()
    if not rows:
        return None
    first = rows[0]._mapping
    release = Release(**{column.name: first[column] for column in releases.columns})
    placed = tuple(kind for kind in HoldKind if first[f"hold_{kind}"])
    chain = tuple(
        StoredLink(
            **{name: row._mapping[f"link_{name}"] for name in _LINK_COLUMNS},
            # A stored link is judged at its receipt, not at its iat nor now.
            received_at=row._mapping["link_created_at"].timestamp(),
            ack_received_at=_timestamp(row._mapping["link_decided_at"])
            if row._mapping["link_ack"] is not None
            else None,
        )
        for row in rows
        if row._mapping["link_seq"] is not None
    )
    return ReleaseAtGate(release=release, holds=placed, links=chain)


def record_decision(session: AsyncSession, decision: GateDecision) -> None:
    """Store a decision at the commit, with its audit event (nothing reads it back before)."""
    values = {column.name: getattr(decision, column.name) for column in decisions.columns}
    insert_at_commit(session, decisions, values)


@dataclass(frozen=True)
class ClaimedDecision:
    """A `release` decision this request has marked completed."""

    release_id: uuid.UUID
    container: str
    driver_id: uuid.UUID | None


_CLAIM_DECISION = (
    update(decisions)
    .where(
        # Parameter names other than column names: SQLAlchemy reserves those for SET values.
        decisions.c.id == bindparam("claimed_id"),
        decisions.c.terminal_id == bindparam("claiming_terminal"),
        decisions.c.decision == Decision.release,
        decisions.c.release_id.is_not(None),
        decisions.c.completed_at.is_(None),
        decisions.c.decided_at >= bindparam("decided_after"),
    )
    .values(completed_at=bindparam("now"))
    .returning(decisions.c.release_id, decisions.c.container, decisions.c.driver_id)
)


async def claim_decision(
    session: AsyncSession,
    *,
    terminal_id: str,
    decision_id: uuid.UUID,
    decided_after: datetime,
    now: datetime,
) -> ClaimedDecision | None:
    """Mark a fresh, uncompleted `release` decision of the terminal completed, atomically.

    None when there is no such decision: unknown, another terminal's, not `release`,
    completed already (perhaps a moment ago by a concurrent request) or too old.
    """
    params = {
        "claimed_id": decision_id,
        "claiming_terminal": terminal_id,
        "decided_after": decided_after,
        "now": now,
    }
    row = (await session.exec(_CLAIM_DECISION, params=params)).first()
    if row is None:
        return None
    return ClaimedDecision(
        release_id=row.release_id, container=row.container, driver_id=row.driver_id
    )


async def terminal_decision(
    session: AsyncSession, decision_id: uuid.UUID, terminal_id: str
) -> GateDecision | None:
    """The decision if it is this terminal's; None when unknown or another terminal's."""
    statement = select_models(GateDecision).where(
        col(GateDecision.id) == decision_id, col(GateDecision.terminal_id) == terminal_id
    )
    return (await session.exec(statement)).first()


async def used_at_gate(session: AsyncSession, release_id: uuid.UUID) -> bool:
    """Whether the gate has let (or begun to let) a driver take the container on this chain."""
    statement = select_models(GateDecision.id).where(
        col(GateDecision.release_id) == release_id,
        col(GateDecision.decision).in_((Decision.release, Decision.inspect)),
    )
    return (await session.exec(statement.limit(1))).first() is not None


async def decisions_between(
    session: AsyncSession,
    *,
    since: datetime,
    until: datetime,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> Sequence[GateDecision]:
    """Every terminal's decisions in [since, until), in (decided_at, id) order, after a
    page's last one (port security's check that each has its one draw)."""
    statement = select_models(GateDecision).where(
        col(GateDecision.decided_at) >= since, col(GateDecision.decided_at) < until
    )
    statement = keyset_page(
        statement, col(GateDecision.decided_at), col(GateDecision.id), after, limit
    )
    return (await session.exec(statement)).all()


async def record_gate_out(session: AsyncSession, gate_out: GateOut) -> bool:
    """Store the gate-out; False if the release has one already (its primary key decides)."""
    return await insert_once(session, GateOut, **gate_out.model_dump())


async def record_used_gate_pass(
    session: AsyncSession,
    *,
    jti: str,
    person_id: uuid.UUID,
    party_id: str,
    used_at: datetime,
    expires_at: datetime,
) -> bool:
    """Store a gate pass as spent; False if its jti was spent before (the primary key)."""
    return await insert_once(
        session,
        UsedGatePass,
        jti=jti,
        person_id=person_id,
        party_id=party_id,
        used_at=used_at,
        expires_at=expires_at,
    )


async def delete_used_gate_passes(session: AsyncSession, *, expired_before: datetime) -> int:
    """Drop the spent gate passes that expired before the moment; how many."""
    result = await session.exec(
        delete(UsedGatePass).where(col(UsedGatePass.expires_at) < expired_before)
    )
    return int(result.rowcount or 0)


async def keep_judged(session: AsyncSession, judged: JudgedStatusList) -> None:
    """Store a status-list token a decision judged with, unless it is stored already."""
    await insert_once(session, JudgedStatusList, **judged.model_dump())


async def judged_status_lists(session: AsyncSession, hashes: Iterable[str]) -> dict[str, str]:
    """The stored tokens of these hashes, by hash (an evidence export's read)."""
    statement = select_models(JudgedStatusList).where(
        col(JudgedStatusList.token_sha256).in_(sorted(set(hashes)))
    )
    return {row.token_sha256: row.token for row in (await session.exec(statement)).all()}
