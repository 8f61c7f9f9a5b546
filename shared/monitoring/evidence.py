"""The evidence of an alert: which access-log rows and audit events are behind it.

An item is `{"access_log": <row id>}` or `{"audit_event": "<event id>"}`. A client fetches
an audit event's receipt (a C2SP tlog-proof) at `GET /v1/log/events/<event id>/receipt` of
the service that raised the alert, once a signed checkpoint covers the event.
"""

import uuid
from collections.abc import Iterable
from typing import Any

#: At most this many items are named; the facts say how many there were in all.
MAX_ITEMS = 100


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
