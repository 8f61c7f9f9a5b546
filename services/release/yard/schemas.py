"""API models of yard entries."""

import uuid
from datetime import datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from services.release.yard.models import YardState


class YardEntryCreate(BaseModel):
    """The terminal announces a container and the line that holds its release right."""

    model_config = ConfigDict(extra="forbid")

    container: str = Field(max_length=32, examples=["CSQU3054383"])
    shipping_line: str = Field(max_length=64, examples=["EU.EORI.NL100000001"])
    state: YardState = YardState.in_yard
    # The release right ends here; without it only the service's bound applies.
    valid_until: AwareDatetime | None = None
    # The announcing terminal itself; may be left out (a terminal announces only at its own).
    terminal: str | None = Field(default=None, max_length=64)


class YardEntryUpdate(BaseModel):
    """A correction by the terminal: the fields sent are changed (`valid_until: null` clears)."""

    model_config = ConfigDict(extra="forbid")

    shipping_line: str | None = Field(default=None, max_length=64)
    state: YardState | None = None
    valid_until: AwareDatetime | None = None


class YardEntryView(BaseModel):
    """A yard entry."""

    entry_id: uuid.UUID
    container: str
    terminal: str
    shipping_line: str
    state: str
    valid_until: datetime | None
    announced_at: datetime
    updated_at: datetime
    withdrawn_at: datetime | None


class YardEntryList(BaseModel):
    """The yard entries the caller may see."""

    entries: list[YardEntryView]
