"""Webhooks' tables: subscriptions, the transactional outbox, and deliveries.

- `webhook_subscriptions`: a party's endpoint, the event types it wants, its secret sealed
  at rest (`secrets.py`), and whether it is `active`, `failing` or `deleted` (a deleted
  subscription is kept, so that "who knew?" still names its party).
- `webhook_outbox`: one row per event, written in the transaction of the change it tells
  of; `fanned_out_at` is set once the fan-out has made its deliveries. Its integer id is
  the order of events.
- `webhook_deliveries`: one row per event and subscription that may be told, with the
  payload as that party may see it; delivered at least once, in `outbox_id` order per
  subscription and release.
- `webhook_dispatcher_lead`: the dispatcher process that leads, and until when.
"""

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, Index, LargeBinary
from sqlmodel import Field, SQLModel

from shared.models import BigId, UTCDateTime, utcnow


class SubscriptionStatus(StrEnum):
    """`failing` once a delivery was given up; `active` again after the next success."""

    active = "active"
    failing = "failing"
    deleted = "deleted"


class DeliveryStatus(StrEnum):
    """`pending` until delivered, or `failed` once given up (replayable)."""

    pending = "pending"
    delivered = "delivered"
    failed = "failed"


class Subscription(SQLModel, table=True):
    """A party's webhook endpoint and the events it wants."""

    __tablename__ = "webhook_subscriptions"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    party_id: str = Field(index=True, max_length=40)
    # The party's roles when it subscribed (from its token): what it may be told is judged
    # with them, as its reads are.
    party_roles: list[str] = Field(sa_column=Column(JSON, nullable=False))
    url: str = Field(max_length=2000)
    event_types: list[str] = Field(sa_column=Column(JSON, nullable=False))
    secret_sealed: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    status: str = Field(default=SubscriptionStatus.active, max_length=16)
    failing_since: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_by: str = Field(max_length=100)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    deleted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class OutboxEvent(SQLModel, table=True):
    """An event, written with the change it tells of (never without it)."""

    __tablename__ = "webhook_outbox"
    __table_args__ = (Index("ix_webhook_outbox_fanned_out_at_id", "fanned_out_at", "id"),)

    id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True))
    event_id: uuid.UUID = Field(default_factory=uuid.uuid4, unique=True)
    event_type: str = Field(max_length=80)
    release_id: uuid.UUID | None = Field(default=None, index=True)
    facts: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    occurred_at: datetime = Field(sa_type=UTCDateTime)
    fanned_out_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Delivery(SQLModel, table=True):
    """One event for one subscription; its id is the `webhook-id` (also on a replay)."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index("ix_webhook_deliveries_status_next_attempt_at", "status", "next_attempt_at"),
        Index("ix_webhook_deliveries_order", "subscription_id", "release_id", "outbox_id"),
        Index("ix_webhook_deliveries_subscription_created", "subscription_id", "created_at", "id"),
        # Each subscription's queue, oldest due first (the dispatcher's claim).
        Index(
            "ix_webhook_deliveries_queue",
            "subscription_id",
            "status",
            "next_attempt_at",
            "outbox_id",
        ),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    subscription_id: uuid.UUID = Field(foreign_key="webhook_subscriptions.id")
    party_id: str = Field(max_length=40)
    outbox_id: int = Field(sa_type=BigId)
    event_id: uuid.UUID
    event_type: str = Field(max_length=80)
    release_id: uuid.UUID | None = Field(default=None, index=True)
    occurred_at: datetime = Field(sa_type=UTCDateTime)
    payload: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    status: str = Field(default=DeliveryStatus.pending, max_length=16)
    attempts: int = 0
    next_attempt_at: datetime = Field(sa_type=UTCDateTime)
    # Retries are given up this long after this moment (its making, or its replay).
    retry_since: datetime = Field(sa_type=UTCDateTime)
    # A dispatcher that claimed it holds it until then; past it, another may take it.
    lease_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_attempt_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_status_code: int | None = None
    last_error: str | None = Field(default=None, max_length=40)
    delivered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # The first success: what "who knew?" counts (a replay tells nothing new).
    first_delivered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    replays: int = 0
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class DispatcherLead(SQLModel, table=True):
    """Which dispatcher process leads (fans out and sends), until when: one at a time per
    deployment, whatever the number of release processes (dispatcher.py)."""

    __tablename__ = "webhook_dispatcher_lead"

    name: str = Field(primary_key=True, max_length=40)
    holder: str = Field(max_length=120)
    until: datetime = Field(sa_type=UTCDateTime)
