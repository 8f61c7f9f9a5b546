"""API models of inspections and their draws."""

import json
import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from services.release.inspections.keys import b64
from services.release.inspections.models import CancelReason, Draw, Inspection, InspectionKey


class PublishedKey(BaseModel):
    """A VRF public key the service draws, or has drawn, with."""

    key_id: str
    public_key: str  # unpadded base64url of the 32-byte Ed25519 point
    first_used_at: datetime | None


class InspectionKeys(BaseModel):
    """The inspection VRF's public keys: the current one, and every one draws name."""

    suite: str
    current: str
    keys: list[PublishedKey]


class DrawView(BaseModel):
    """One draw, with everything needed to recompute it (docs/inspections.md)."""

    draw_id: uuid.UUID
    purpose: str
    alpha: str  # RFC 8785 canonical JSON, the VRF input as it was proved
    alpha_object: dict[str, Any]
    key_id: str
    pi: str  # unpadded base64url
    beta: str  # unpadded base64url
    u: float
    probability: float
    selected: bool
    drawn_at: datetime
    event_id: uuid.UUID
    decision_id: uuid.UUID | None
    release_id: uuid.UUID | None
    container: str | None
    # The draw's event as the audit log holds it (RFC 8785 JSON): with the event's receipt
    # (GET /v1/log/events/{event_id}/receipt) anyone checks it is what was logged then.
    logged_event: str | None

    @classmethod
    def of(cls, draw: Draw, logged_event: str | None) -> "DrawView":
        """The published form of a stored draw."""
        return cls(
            logged_event=logged_event,
            draw_id=draw.id,
            purpose=draw.purpose,
            alpha=draw.alpha,
            alpha_object=json.loads(draw.alpha),
            key_id=draw.key_id,
            pi=b64(draw.pi),
            beta=b64(draw.beta),
            u=draw.u,
            probability=draw.probability,
            selected=draw.selected,
            drawn_at=draw.drawn_at,
            event_id=draw.event_id,
            decision_id=draw.decision_id,
            release_id=draw.release_id,
            container=draw.container,
        )


class DrawPage(BaseModel):
    """One page of draws; `next` is the cursor of the following page, None at the end."""

    draws: list[DrawView]
    next: str | None


class DecisionDraw(BaseModel):
    """A gate decision and the draw it names (None for a `deny`: nothing was drawn)."""

    decision_id: uuid.UUID
    decision: str
    draw_id: uuid.UUID | None
    release_id: uuid.UUID | None
    container: str
    terminal: str
    decided_at: datetime
    event_id: uuid.UUID
    logged_event: str | None  # as for DrawView: the decision as the log holds it


class DecisionPage(BaseModel):
    """One page of gate decisions; `next` is the following page's cursor, None at the end."""

    decisions: list[DecisionDraw]
    next: str | None


class InspectionView(BaseModel):
    """An inspection."""

    inspection_id: uuid.UUID
    container: str
    terminal: str
    release_id: uuid.UUID
    decision_id: uuid.UUID
    draw_id: uuid.UUID
    status: str
    opened_at: datetime
    closed_at: datetime | None
    closed_by: str | None
    # A cancellation asked by one officer and waiting for a second one.
    cancel_requested_by: str | None = None
    cancel_reason: str | None = None

    @classmethod
    def of(cls, inspection: Inspection) -> "InspectionView":
        """The API form of an inspection."""
        return cls(
            inspection_id=inspection.id,
            container=inspection.container,
            terminal=inspection.terminal_id,
            release_id=inspection.release_id,
            decision_id=inspection.decision_id,
            draw_id=inspection.draw_id,
            status=inspection.status,
            opened_at=inspection.opened_at,
            closed_at=inspection.closed_at,
            closed_by=inspection.closed_by,
            cancel_requested_by=inspection.cancel_requested_by,
            cancel_reason=inspection.cancel_reason,
        )


class InspectionList(BaseModel):
    """The inspections the caller may see, newest first."""

    inspections: list[InspectionView]


class OutcomeRecord(BaseModel):
    """What the officer found."""

    model_config = ConfigDict(extra="forbid")

    outcome: Literal["clear", "finding", "seizure"]
    note: str | None = Field(default=None, max_length=2000)


class CancelRequest(BaseModel):
    """Why the selection should not stand (both officers give the same reason)."""

    model_config = ConfigDict(extra="forbid")

    reason: CancelReason


class OfficerCancellations(BaseModel):
    """How many selections one officer asked to cancel, and how many he confirmed."""

    officer: str
    requested: int
    confirmed: int


class CancellationCounts(BaseModel):
    """Cancelled selections of a period, counted per officer (port security)."""

    officers: list[OfficerCancellations]


def published_key(key: InspectionKey) -> PublishedKey:
    """The API form of a stored key."""
    return PublishedKey(
        key_id=key.key_id, public_key=b64(key.public_key), first_used_at=key.first_used_at
    )
