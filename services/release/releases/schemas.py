"""API models of releases and holds."""

import uuid
from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

Light = Literal["green", "red"]


class ReleaseCreate(BaseModel):
    """A shipping line releases a container to a first party, at one terminal."""

    model_config = ConfigDict(extra="forbid")

    container: str = Field(max_length=32, examples=["CSQU3054383"])
    terminal: str = Field(max_length=64, examples=["EU.EORI.NL100000007"])
    release_to: str = Field(max_length=64, examples=["EU.EORI.NL100000002"])
    valid_until: AwareDatetime
    reference: str | None = Field(default=None, min_length=1, max_length=100)
    # Country of loading (ISO 3166 alpha-2), declared by the line; weighs in the inspection draw.
    origin: str | None = Field(default=None, pattern=r"^[A-Z]{2}$", examples=["CO"])
    # A pre-signed release link (non-custodial); without it the party's custodial key signs
    # on behalf of the signed-in person.
    link: str | None = Field(default=None, max_length=8192)


class HoldPlace(BaseModel):
    """Why the hold is placed (optional, seen by overseers and the placer only)."""

    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(default=None, max_length=500)


class Lights(BaseModel):
    """The three lights users know from port systems."""

    commercial: Light
    customs: Light
    terminal: Light


class HoldView(BaseModel):
    """A hold on the release."""

    kind: str
    placed_at: datetime
    placed_by_party: str | None = None
    reason: str | None = None


class LinkSummary(BaseModel):
    """One live step of the chain, as the release view shows it."""

    seq: int
    kind: str
    from_party: str = Field(serialization_alias="from")
    to: str
    status: str
    # What the next link's `prev` must be: the holder needs it to sign the next step.
    link_hash: str
    created_at: datetime
    decided_at: datetime | None


class ReleaseView(BaseModel):
    """A release as the caller may see it (fields his role does not need are left out)."""

    release_id: uuid.UUID
    container: str
    terminal: str
    shipping_line: str
    release_to: str
    valid_until: datetime
    reference: str | None = None
    origin: str | None = None
    status: str
    lights: Lights
    holds: list[HoldView]
    holder: str | None
    driver: str | None
    links: list[LinkSummary]
    created_at: datetime
    closed_at: datetime | None


class ReleaseList(BaseModel):
    """The releases of a container the caller may see."""

    releases: list[ReleaseView]


class WorkLink(BaseModel):
    """One live step of a release's chain, as the work list shows it."""

    seq: int
    kind: str
    from_party: str = Field(serialization_alias="from")
    to: str
    status: str


class GateResult(BaseModel):
    """The latest gate decision of a release for the driver asking (his own pickups only)."""

    decision: str
    decided_at: datetime


class WorkItem(BaseModel):
    """A release on the caller's work list: its lights, its chain, and what awaits him."""

    release_id: uuid.UUID
    container: str
    terminal: str
    status: str
    valid_until: datetime
    created_at: datetime
    lights: Lights
    chain: list[WorkLink]
    # The `seq` of each pending link whose receiver is the caller (his party, or the driver
    # himself for an assignment): the steps he may accept or decline now.
    awaiting_me: list[int]
    # For a driver: the gate's latest answer to him for this release, once there is one
    # (after the decision, so it tells nothing in advance); None for everyone else.
    gate: GateResult | None = None


class WorkPage(BaseModel):
    """One page of the caller's work, newest first; `next` is the following page's cursor,
    None at the end."""

    releases: list[WorkItem]
    next: str | None


WorkState = Literal["open", "all"]
