"""SQL of releases and holds; `visible_to` is the one place that scopes what a caller reads.

This module is the one that writes the `releases` and `holds` tables: a release made,
closed (cancelled, expired) or picked up at the gate, a hold placed or lifted.
"""

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, and_, bindparam, exists, false, not_, or_, true, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.release.auth import Caller
from services.release.chain.models import LIVE_STATUSES, Link, LinkKind
from services.release.gate.models import GateDecision
from services.release.releases.models import Hold, HoldKind, Release, ReleaseStatus
from shared.db import table_of

# Parties that oversee the whole port: they see every release.
OVERSEERS = ("port_security", "customs")


def visible_to(caller: Caller) -> ColumnElement[bool]:
    """The releases the caller may read (docs/design.md, Invariants 3, need-to-know)."""
    if any(caller.has(role) for role in OVERSEERS):
        return true()
    live = col(Link.status).in_(LIVE_STATUSES)
    if caller.is_driver:
        return exists().where(
            col(Link.release_id) == col(Release.id),
            col(Link.kind) == LinkKind.assignment,
            col(Link.to) == str(caller.principal.person_id),
            live,
        )
    party = caller.party_id
    clauses: list[ColumnElement[bool]] = [
        col(Release.shipping_line_id) == party,
        exists().where(
            col(Link.release_id) == col(Release.id),
            live,
            or_(col(Link.from_party) == party, col(Link.receiver_party) == party),
        ),
    ]
    if caller.has("terminal"):
        clauses.append(col(Release.terminal_id) == party)
    return or_(*clauses) if clauses else false()


async def get_visible(
    session: AsyncSession, caller: Caller, release_id: uuid.UUID, *, for_update: bool = False
) -> Release | None:
    """The release, if it exists and the caller may see it (locked for a change)."""
    statement = select(Release).where(col(Release.id) == release_id, visible_to(caller))
    if for_update:
        statement = statement.with_for_update(of=Release)
    return (await session.exec(statement)).first()


async def search_visible(
    session: AsyncSession, caller: Caller, *, container: str, limit: int
) -> Sequence[Release]:
    """The caller's visible releases of a container, newest first."""
    statement = (
        select(Release)
        .where(col(Release.container) == container, visible_to(caller))
        .order_by(col(Release.created_at).desc())
        .limit(limit)
    )
    return (await session.exec(statement)).all()


def _held(kind: HoldKind) -> ColumnElement[bool]:
    return exists().where(col(Hold.release_id) == col(Release.id), col(Hold.kind) == kind)


async def work_page(
    session: AsyncSession,
    caller: Caller,
    *,
    open_only: bool,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
    now: datetime,
) -> Sequence[tuple[Release, bool, bool]]:
    """The caller's visible releases, newest first in (created_at, id) order after the row
    `after`, each with whether it has a customs and a terminal hold: one statement.

    Newest first is the reverse of `paging.keyset_page`'s order, so the keyset is written
    here; `open_only` keeps the releases still open now (not past their validity).
    """
    statement = select(
        Release, _held(HoldKind.customs).label("customs"), _held(HoldKind.terminal).label("term")
    ).where(visible_to(caller))
    if open_only:
        statement = statement.where(
            col(Release.status) == ReleaseStatus.open, col(Release.valid_until) > now
        )
    if after is not None:
        at, last_id = after
        statement = statement.where(
            (col(Release.created_at) < at)
            | ((col(Release.created_at) == at) & (col(Release.id) < last_id))
        )
    statement = statement.order_by(col(Release.created_at).desc(), col(Release.id).desc())
    rows = (await session.exec(statement.limit(limit))).all()
    return [(release, bool(customs), bool(term)) for release, customs, term in rows]


async def latest_gate_answers(
    session: AsyncSession, release_ids: Sequence[uuid.UUID], driver_id: uuid.UUID
) -> dict[uuid.UUID, tuple[str, datetime]]:
    """The newest gate decision of each release for this driver: one statement."""
    if not release_ids:
        return {}
    statement = (
        select(GateDecision.release_id, GateDecision.decision, GateDecision.decided_at)
        .where(
            col(GateDecision.release_id).in_(release_ids),
            col(GateDecision.driver_id) == driver_id,
        )
        .order_by(col(GateDecision.decided_at).desc())
    )
    latest: dict[uuid.UUID, tuple[str, datetime]] = {}
    for release_id, decision, decided_at in (await session.exec(statement)).all():
        if release_id is not None:
            latest.setdefault(release_id, (decision, decided_at))
    return latest


async def open_for_container(session: AsyncSession, container: str) -> Release | None:
    """The open release of a container, if any (there is at most one)."""
    statement = select(Release).where(
        col(Release.container) == container, col(Release.status) == ReleaseStatus.open
    )
    return (await session.exec(statement)).first()


async def latest_for_container(session: AsyncSession, container: str) -> Release | None:
    """The newest release of a container, whatever its status."""
    statement = (
        select(Release)
        .where(col(Release.container) == container)
        .order_by(col(Release.created_at).desc())
        .limit(1)
    )
    return (await session.exec(statement)).first()


async def containers_of(
    session: AsyncSession, release_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, str]:
    """The container of each of these releases, by release id (whoever may see them: the
    caller has scoped the ids already)."""
    if not release_ids:
        return {}
    statement = select(Release.id, Release.container).where(
        col(Release.id).in_(sorted(set(release_ids)))
    )
    return {release_id: container for release_id, container in (await session.exec(statement))}


async def release_exists(session: AsyncSession, release_id: uuid.UUID) -> bool:
    """Whether a release with this id exists, whatever its status and whoever may see it."""
    return await session.get(Release, release_id) is not None


async def insert_release(session: AsyncSession, release: Release) -> bool:
    """Insert a release in a savepoint; False when a constraint refuses it (the container
    has an open release already), the rest of the transaction untouched."""
    try:
        async with session.begin_nested():
            session.add(release)
    except IntegrityError:
        return False
    return True


async def reload(session: AsyncSession, release: Release) -> None:
    """Read the release's row again (after a change made with an `UPDATE`)."""
    await session.refresh(release)


async def close_if_open(
    session: AsyncSession, release_id: uuid.UUID, *, status: ReleaseStatus, now: datetime
) -> bool:
    """Move an open release to `status`; False if it was not open (someone else won)."""
    result = await session.exec(
        update(Release)
        .where(and_(col(Release.id) == release_id, col(Release.status) == ReleaseStatus.open))
        .values(status=status, closed_at=now, updated_at=now)
    )
    return bool(result.rowcount)


_releases = table_of(Release)
_holds = table_of(Hold)

# Built once with bound parameters: the gate-out is the hot path (gate/repository.py says why).
_PICK_UP = (
    update(_releases)
    .where(
        _releases.c.id == bindparam("picked_up_id"),
        _releases.c.status == ReleaseStatus.open,
        not_(exists().where(_holds.c.release_id == _releases.c.id)),
    )
    .values(status=ReleaseStatus.picked_up, closed_at=bindparam("now"), updated_at=bindparam("now"))
)


async def mark_picked_up(session: AsyncSession, release_id: uuid.UUID, *, now: datetime) -> bool:
    """Move an open release without holds to `picked_up`, in one conditional `UPDATE`; False
    if it is not open or held (a concurrent gate-out waits for the row lock, then finds the
    condition false)."""
    result = await session.exec(_PICK_UP, params={"picked_up_id": release_id, "now": now})
    return bool(result.rowcount)


async def holds(session: AsyncSession, release_id: uuid.UUID) -> Sequence[Hold]:
    """The holds on a release."""
    statement = select(Hold).where(col(Hold.release_id) == release_id).order_by(col(Hold.kind))
    return (await session.exec(statement)).all()


async def get_hold(session: AsyncSession, release_id: uuid.UUID, kind: str) -> Hold | None:
    """One hold."""
    return await session.get(Hold, (release_id, kind))


def add_hold(session: AsyncSession, hold: Hold) -> None:
    """Place a hold (written with the transaction)."""
    session.add(hold)


async def delete_hold(session: AsyncSession, hold: Hold) -> None:
    """Lift a hold (deleted with the transaction)."""
    await session.delete(hold)


async def open_release_at(
    session: AsyncSession, *, container: str, terminal_id: str, shipping_line_id: str
) -> Release | None:
    """The open release a line made of a container at a terminal, locked for a change."""
    statement = (
        select(Release)
        .where(
            col(Release.container) == container,
            col(Release.terminal_id) == terminal_id,
            col(Release.shipping_line_id) == shipping_line_id,
            col(Release.status) == ReleaseStatus.open,
        )
        .with_for_update(of=Release)
    )
    return (await session.exec(statement)).first()
