"""Yard entries: what a terminal says is in its yard, and which line may release it."""

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Index, text
from sqlmodel import Field, SQLModel

from shared.models import UTCDateTime, utcnow


class YardState(StrEnum):
    """Whether the container stands in the yard or is expected (on the discharge list)."""

    in_yard = "in_yard"
    expected = "expected"


class YardEntry(SQLModel, table=True):
    """A terminal's statement that a container is (or will be) in its yard, and which
    shipping line holds the release right for it (docs/design.md, Domain)."""

    __tablename__ = "yard_entries"
    __table_args__ = (
        # One live entry per container at a terminal: the right to release must be unambiguous.
        Index(
            "uq_yard_entries_live",
            "terminal_id",
            "container",
            unique=True,
            postgresql_where=text("withdrawn_at IS NULL"),
            sqlite_where=text("withdrawn_at IS NULL"),
        ),
    )

    id: uuid.UUID = Field(primary_key=True, default_factory=uuid.uuid4)
    terminal_id: str = Field(index=True, max_length=40)
    container: str = Field(index=True, max_length=11)
    shipping_line_id: str = Field(index=True, max_length=40)
    state: str = Field(default=YardState.in_yard, max_length=16)
    # The release right ends here (releases may not outlive it); None: only the service's
    # bound on a release's validity applies.
    valid_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    announced_by: str = Field(max_length=100)
    announced_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    withdrawn_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    withdrawn_by: str | None = Field(default=None, max_length=100)
