"""What "who knew?" answers (docs/access-log.md#who-knew)."""

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

Source = Literal["access_log", "release", "chain", "gate", "hold", "inspection", "alert", "event"]
Relative = Literal["before", "after", "none"]


class Pickup(BaseModel):
    """A gate-out of one of the container's releases."""

    release_id: uuid.UUID
    decision_id: uuid.UUID
    at: datetime
    by: str


class Knowledge(BaseModel):
    """One moment someone saw the container, or was told of it."""

    at: datetime
    source: Source = Field(
        description="`access_log` for a read; otherwise the record that told him: the "
        "release, its chain, a gate decision, a hold, an inspection, an alert naming the "
        "container (raised: to port security; acknowledged or closed: by whom), or an "
        "`event` delivered to a party's webhook subscription (its type as `outcome`)"
    )
    action: str = Field(description="e.g. `release.read`, `link.received`, `gate.asked`")
    actor: str | None = Field(description="`person:<id>` or `client:<party id>`")
    party_id: str | None
    person_id: uuid.UUID | None
    endpoint: str | None = Field(description="the route, e.g. `GET /v1/releases/{release_id}`")
    outcome: str | None
    release_id: uuid.UUID | None
    pickup: Relative = Field(
        description="`before` or `after` the pickup (the gate-out of this entry's release, "
        "else the container's next one), `none` when the container was never picked up"
    )


class WhoKnew(BaseModel):
    """Everyone who read the container's release, chain, holds or inspections, or was told
    of it, in a period, oldest first."""

    container: str
    pickups: list[Pickup]
    entries: list[Knowledge]
    next: str | None = Field(description="cursor of the next page, if any")
