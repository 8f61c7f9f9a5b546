"""Pages of a period: `since`/`until` checks and the opaque cursor of keyset pagination.

Lists that can grow without bound (draws, decisions, alerts, visits) are read a page at a
time in (moment, id) order; the cursor is the last row's (moment, id), base64url-encoded,
so a page never repeats or skips a row that was there when the first page was read.
"""

import base64
import binascii
import uuid
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import Select
from sqlalchemy.orm import Mapped
from sqlmodel.sql.expression import SelectOfScalar

from shared.problems import InvalidInput

Page = TypeVar("Page", Select[Any], SelectOfScalar[Any])


def check_period(since: datetime, until: datetime) -> None:
    """422 unless the period is [since, until) with until after since."""
    if until <= since:
        raise InvalidInput("period_invalid", "until must be after since")


def read_cursor(text: str | None) -> tuple[datetime, uuid.UUID] | None:
    """(moment, id) of the last row of the page before; None for the first page."""
    if text is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode("ascii")
        at, _, row_id = raw.partition("|")
        moment = datetime.fromisoformat(at)
        if moment.tzinfo is None:
            raise ValueError("naive")
        # In UTC here, so that a moment with no UTC equivalent (year 1 at +01:00) is refused
        # now rather than by the database driver later (a 500).
        return moment.astimezone(UTC), uuid.UUID(row_id)
    except (binascii.Error, UnicodeDecodeError, ValueError, OverflowError):
        raise InvalidInput("cursor_invalid", "the cursor is not one this service gave") from None


def next_cursor(moment: datetime, row_id: uuid.UUID) -> str:
    """The cursor of the page after the row (moment, id)."""
    raw = f"{moment.isoformat()}|{row_id}".encode("ascii")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def keyset_page(
    statement: Page,
    moment: Mapped[datetime],
    row_id: Mapped[uuid.UUID],
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> Page:
    """The page of `statement` after the row (moment, id), in (moment, id) order."""
    if after is not None:
        at, last_id = after
        statement = statement.where((moment > at) | ((moment == at) & (row_id > last_id)))
    return statement.order_by(moment, row_id).limit(limit)
