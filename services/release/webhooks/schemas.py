"""API models of subscriptions and deliveries."""

import uuid
from datetime import datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class SubscriptionCreate(BaseModel):
    """A party's HTTPS endpoint and the event types it wants (docs/webhooks.md)."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(max_length=2000, examples=["https://tos.example.com/ketenpas/webhooks"])
    event_types: list[str] = Field(
        min_length=1, max_length=20, examples=[["nl.ketenpas.release.cancelled"]]
    )


class SubscriptionView(BaseModel):
    """A subscription as its party sees it (never its secret)."""

    id: uuid.UUID
    url: str
    event_types: list[str]
    # `active`, or `failing` once a delivery was given up (until one succeeds again).
    status: str
    failing_since: datetime | None
    created_at: datetime


class SubscriptionCreated(SubscriptionView):
    """The new subscription with its signing secret: shown this once, never again."""

    secret: str


class SubscriptionList(BaseModel):
    """The caller's party's subscriptions."""

    subscriptions: list[SubscriptionView]


class DeliveryView(BaseModel):
    """One event for the subscription: its `id` is the `webhook-id` it is sent with."""

    id: uuid.UUID
    event_id: uuid.UUID
    event_type: str
    release_id: uuid.UUID | None
    occurred_at: datetime
    # `pending` (with `next_attempt_at`), `delivered`, or `failed` (given up; replayable).
    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    delivered_at: datetime | None
    replays: int
    created_at: datetime


class DeliveryPage(BaseModel):
    """A page of deliveries, oldest first; `next` is the following page's cursor."""

    deliveries: list[DeliveryView]
    next: str | None


class ReplaySince(BaseModel):
    """Send again every delivered or given-up event of the subscription since a moment."""

    model_config = ConfigDict(extra="forbid")

    since: AwareDatetime


class ReplayResult(BaseModel):
    """How many deliveries will be sent again (each with its own `webhook-id`, as before)."""

    replayed: int
