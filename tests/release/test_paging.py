"""The cursors of the paged lists: only what the service gave opens a page; anything else
is a 422 `cursor_invalid`, never a 500."""

import base64
import uuid
from datetime import UTC, datetime

import pytest

from shared.paging import next_cursor, read_cursor
from shared.problems import Problem


def _cursor(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).rstrip(b"=").decode()


def test_a_cursor_given_reads_back() -> None:
    moment, row = datetime(2026, 12, 6, 9, 14, 3, 120000, tzinfo=UTC), uuid.uuid4()
    assert read_cursor(next_cursor(moment, row)) == (moment, row)


@pytest.mark.parametrize(
    "cursor",
    [
        _cursor(f"0001-01-01T00:00:00+01:00|{uuid.uuid4()}"),  # no UTC moment: was a 500
        _cursor(f"2026-12-06T09:14:03|{uuid.uuid4()}"),  # naive
        _cursor("2026-12-06T09:14:03+00:00|not-a-uuid"),
        "***",
        _cursor("\u00e9"),
    ],
)
def test_anything_else_is_refused(cursor: str) -> None:
    with pytest.raises(Problem) as refused:
        read_cursor(cursor)
    assert (refused.value.status, refused.value.code) == (422, "cursor_invalid")
