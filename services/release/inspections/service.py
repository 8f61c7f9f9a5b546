"""Inspections: selection at the gate, sticky until an officer records the outcome.

- Each gate decision that would release draws for its container (`draws.draw`), unless
  the gate visit has drawn already (`visit_draw`: asking again within a visit is answered
  with the visit's draw, never a new one).
- A selection opens an inspection, and while it is open it is the answer for the container:
  asking again, a fresh gate pass, another driver, even a new release for the same
  container, all find the open inspection, and nothing is drawn.
- An officer (customs or port security, never whoever asked for the decision) records the
  outcome: `clear` lets the container go at its next gate decision (the inspection has been
  done, so nothing is drawn again for that release); `finding` or `seizure` places a customs
  hold.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from services.release.alerts.service import raise_alert
from services.release.auth import Caller
from services.release.inspections import repository
from services.release.inspections.draws import cited_checkpoint, draw
from services.release.inspections.keys import DrawingKey
from services.release.inspections.models import (
    CancelReason,
    Inspection,
    InspectionStatus,
    Purpose,
)
from services.release.inspections.policy import Pickup, port_day, weigh
from services.release.inspections.policy_repository import claim_capacity
from services.release.inspections.risk import RiskPolicy, probability_of
from services.release.releases import service as releases
from services.release.releases.models import HoldKind
from services.release.settings import ReleaseSettings
from services.release.webhooks import events as webhook_events
from services.release.webhooks.outbox import record as announce
from shared.audit.events import append
from shared.problems import Conflict, Forbidden, NotFound

# What lets a selected release go at its next decision.
_LETS_GO = frozenset(
    {InspectionStatus.clear, InspectionStatus.cancelled, InspectionStatus.over_capacity}
)


@dataclass(frozen=True)
class Selection:
    """What the inspection side says of a gate decision that would otherwise release."""

    selected: bool
    draw_id: uuid.UUID | None
    inspection_id: uuid.UUID | None = None
    reason: str | None = None  # random_inspection, inspection_open


async def select_at_gate(
    session: AsyncSession,
    *,
    key: DrawingKey,
    decision_id: uuid.UUID,
    pickup: Pickup,
    settings: ReleaseSettings,
    decided_after: datetime,
    now: datetime,
) -> Selection:
    """Whether the container is inspected; opens the inspection when it is selected now.

    The draw is weighted by the terminal's policy (`policy`, `risk`); its subject names the
    policy version and the factors present, so that its probability can be recomputed. A
    selection beyond the terminal's daily capacity is recorded as `over_capacity` and
    alerted, and the container goes.
    """
    release = pickup.release
    release_id, container, terminal_id = release.id, release.container, release.terminal_id
    state = await repository.selection_state(
        session, container=container, release_id=release_id, decided_after=decided_after
    )
    if state.open_id is not None:
        return _still_open(state.open_id, state.open_draw)
    if state.latest_id is not None and state.latest_status in _LETS_GO:
        # Inspected and cleared, or the selection cancelled by two officers: this release
        # goes, under the draw that selected it.
        return Selection(selected=False, draw_id=state.latest_draw, inspection_id=state.latest_id)
    if state.visit_draw is not None:
        return Selection(selected=False, draw_id=state.visit_draw)
    policy, factors = await weigh(session, pickup, settings, now)
    made = await draw(
        session,
        key=key,
        purpose=Purpose.container,
        subject={
            # The release's visit number, not the decision's id: the service picks an id
            # freely, so whoever holds the key could try ids until one draws `release`.
            "release": str(release_id),
            "visit": state.last_visit + 1,
            "container": container,
            "terminal": terminal_id,
            "policy": policy.version,
            "factors": factors,
        },
        probability=probability_of(policy, factors),
        checkpoint=cited_checkpoint(
            state.checkpoint_size, state.checkpoint_root, state.checkpoint_note
        ),
        now=now,
        decision_id=decision_id,
        release_id=release_id,
        log_at_commit=True,  # the gate's decision event follows it, at the commit too
        container=container,
        visit=state.last_visit + 1,
    )
    if not made.selected:
        return Selection(selected=False, draw_id=made.id)
    within_capacity = policy.daily_capacity is None or await claim_capacity(
        session, terminal_id, port_day(now, settings), policy.daily_capacity
    )
    inspection = Inspection(
        container=container,
        terminal_id=terminal_id,
        release_id=release_id,
        decision_id=decision_id,
        draw_id=made.id,
        requested_by=pickup.requested_by,
        opened_at=now,
    )
    if not within_capacity:
        return await _over_capacity(session, inspection, policy, now=now)
    if not await repository.add_inspection(session, inspection):
        # Another decision for the container opened one a moment ago: that one stands.
        raced = await repository.open_inspection(session, container)
        if raced is not None:
            return _still_open(raced.id, raced.draw_id)
        raise Conflict("inspection_race", "the container's inspection changed; ask again")
    await append(
        session,
        "inspection.opened",
        {
            "inspection_id": str(inspection.id),
            "container": container,
            "terminal": terminal_id,
            "release_id": str(release_id),
            "decision_id": str(decision_id),
            "draw_id": str(made.id),
        },
    )
    announce(
        session,
        webhook_events.INSPECTION_SELECTED,
        release_id=release_id,
        facts={
            "inspection_id": str(inspection.id),
            "container": container,
            "terminal": terminal_id,
            "decision_id": str(decision_id),
        },
        now=now,
    )
    return Selection(
        selected=True, draw_id=made.id, inspection_id=inspection.id, reason="random_inspection"
    )


async def _over_capacity(
    session: AsyncSession, inspection: Inspection, policy: RiskPolicy, *, now: datetime
) -> Selection:
    """Selected when the day's capacity is used up: recorded, alerted, and the box goes."""
    inspection.status = InspectionStatus.over_capacity
    inspection.closed_at = now
    await repository.add_closed_inspection(session, inspection)
    facts = {
        "inspection_id": str(inspection.id),
        "container": inspection.container,
        "terminal": inspection.terminal_id,
        "release_id": str(inspection.release_id),
        "decision_id": str(inspection.decision_id),
        "draw_id": str(inspection.draw_id),
        "daily_capacity": policy.daily_capacity,
    }
    await append(session, "inspection.over_capacity", facts)
    await raise_alert(
        session,
        kind="inspection_over_capacity",
        severity="high",
        summary=(
            f"{inspection.container} was selected at {inspection.terminal_id}, "
            "whose inspection capacity for the day is used up: it was not inspected"
        ),
        facts=facts,
        now=now,
    )
    return Selection(selected=False, draw_id=inspection.draw_id, inspection_id=inspection.id)


def _still_open(inspection_id: uuid.UUID, draw_id: uuid.UUID | None) -> Selection:
    return Selection(
        selected=True, draw_id=draw_id, inspection_id=inspection_id, reason="inspection_open"
    )


def inspection_not_found() -> NotFound:
    """One answer for an inspection that does not exist or that the caller may not see."""
    return NotFound("inspection_not_found", "no such inspection")


async def _open_for_officer(
    session: AsyncSession, caller: Caller, inspection_id: uuid.UUID
) -> Inspection:
    """An open inspection that this caller, an officer, may close; 403/404/409 otherwise."""
    inspection = await repository.inspection(session, inspection_id)
    if inspection is None:
        raise inspection_not_found()
    if inspection.requested_by == caller.principal.actor:
        raise Forbidden(
            "inspector_is_requester",
            "whoever asked for the gate decision may not close its inspection",
        )
    if inspection.status != InspectionStatus.open:
        raise Conflict("inspection_closed", f"the inspection is {inspection.status} already")
    return inspection


async def cancel(
    session: AsyncSession,
    *,
    caller: Caller,
    inspection_id: uuid.UUID,
    reason: CancelReason,
    now: datetime,
) -> Inspection:
    """Cancel a selection: a first officer asks, a second, different one confirms with the
    same reason; each step is logged with its officer."""
    inspection = await _open_for_officer(session, caller, inspection_id)
    actor = caller.principal.actor
    if inspection.cancel_requested_by is None:
        if not await repository.request_cancellation(
            session, inspection_id, actor=actor, reason=reason, now=now
        ):
            raise Conflict("inspection_changed", "the inspection changed meanwhile; look again")
        event = "inspection.cancel_requested"
    else:
        if inspection.cancel_requested_by == actor:
            raise Conflict(
                "second_officer_required", "another officer must confirm the cancellation"
            )
        if inspection.cancel_reason != reason:
            raise Conflict(
                "cancel_reason_differs",
                f"the first officer gave {inspection.cancel_reason!r}; both must agree",
            )
        if not await repository.confirm_cancellation(
            session, inspection_id, actor=actor, reason=reason, now=now
        ):
            raise Conflict("inspection_changed", "the inspection changed meanwhile; look again")
        event = "inspection.cancelled"
    await append(
        session,
        event,
        {
            "inspection_id": str(inspection.id),
            "container": inspection.container,
            "reason": str(reason),
            "actor": actor,
            "requested_by": inspection.cancel_requested_by or actor,
        },
    )
    await session.refresh(inspection)
    return inspection


async def record_outcome(
    session: AsyncSession,
    *,
    caller: Caller,
    inspection_id: uuid.UUID,
    outcome: InspectionStatus,
    note: str | None,
    now: datetime,
) -> Inspection:
    """Close an open inspection with its outcome; a finding or seizure holds the release."""
    if outcome in (InspectionStatus.open, InspectionStatus.cancelled):
        raise Conflict("outcome_invalid", "an outcome is clear, finding or seizure")
    inspection = await _open_for_officer(session, caller, inspection_id)
    closed = await repository.close_inspection(
        session, inspection_id, status=outcome, closed_by=caller.principal.actor, note=note, now=now
    )
    if not closed:
        raise Conflict("inspection_closed", f"the inspection is {inspection.status} already")
    if outcome in (InspectionStatus.finding, InspectionStatus.seizure):
        await releases.add_hold(
            session,
            release_id=inspection.release_id,
            kind=HoldKind.customs,
            party_id=caller.party_id,
            actor=caller.principal.actor,
            reason=f"inspection {inspection.id}: {outcome}",
            now=now,
        )
    facts = {
        "inspection_id": str(inspection.id),
        "container": inspection.container,
        "release_id": str(inspection.release_id),
        "outcome": str(outcome),
        "actor": caller.principal.actor,
    }
    await append(session, "inspection.closed", facts)
    if outcome != InspectionStatus.clear:
        await raise_alert(
            session,
            kind=f"inspection_{outcome}",
            severity="high",
            summary=f"{outcome} in {inspection.container}: the release is under a customs hold",
            facts=facts,
            now=now,
        )
    await session.refresh(inspection)
    return inspection
