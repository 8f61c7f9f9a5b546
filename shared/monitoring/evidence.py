"""The evidence of an alert: which access-log rows and audit events are behind it.

An item is `{"access_log": <row id>}` or `{"audit_event": "<event id>"}`. A client fetches
an audit event's receipt (a C2SP tlog-proof) at `GET /v1/log/events/<event id>/receipt` of
the service that raised the alert, once a signed checkpoint covers the event.
"""

import re
import uuid
from collections.abc import Iterable, Iterator
from typing import Any

from shared import iso6346

#: At most this many items are named; the facts say how many there were in all.
MAX_ITEMS = 100

#: A container number as the services store it (owner, category, serial, check digit).
_CONTAINER = re.compile(r"(?<![A-Z0-9])[A-Z]{3}[UJZ][0-9]{7}(?![0-9])")
#: Facts are small; a walk stops this deep (facts are JSON an alert's rule wrote).
_MAX_DEPTH = 6


def access_rows(ids: Iterable[int]) -> list[dict[str, Any]]:
    """Evidence items naming access-log rows."""
    return [{"access_log": int(row_id)} for row_id in list(ids)[:MAX_ITEMS]]


def audit_events(ids: Iterable[uuid.UUID | str]) -> list[dict[str, Any]]:
    """Evidence items naming audit events."""
    return [{"audit_event": str(event_id)} for event_id in list(ids)[:MAX_ITEMS]]


def receipt_path(item: dict[str, Any]) -> str | None:
    """Where the receipt of an evidence item is served (audit events only)."""
    event_id = item.get("audit_event")
    return None if event_id is None else f"/v1/log/events/{event_id}/receipt"


def containers_named(facts: Any) -> list[str]:
    """The valid container numbers an alert's facts name anywhere (a `containers` list, a
    `container`, a key's `about`), each once, in order: reading the alert told the reader
    of them, so "who knew?" counts the read."""
    return list(dict.fromkeys(_containers_in(facts, 0)))


def _containers_in(value: Any, depth: int) -> Iterator[str]:
    if depth > _MAX_DEPTH:
        return
    if isinstance(value, str):
        for found in _CONTAINER.findall(value):
            if iso6346.is_valid(found):
                yield found
    elif isinstance(value, dict):
        for item in value.values():
            yield from _containers_in(item, depth + 1)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _containers_in(item, depth + 1)
