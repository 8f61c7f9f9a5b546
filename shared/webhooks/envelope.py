"""The body of a delivery: one CloudEvents 1.0 event in structured mode (JSON format).

The event is built and written by the official CloudEvents SDK (`cloudevents.core`, the
maintained API of the `cloudevents` package; `cloudevents.v1` is its legacy API), so the
attribute names, the `time` format (RFC 3339, `Z` for UTC) and the placement of `data` are
the SDK's, not ours.

The bytes are deterministic for the same input, because a delivery is signed over them and
may be rebuilt for a retry or a replay: attributes are written in one fixed order and the
keys of `data` are sorted at every level (a JSON column hands `data` back in whatever order
the database keeps, PostgreSQL's `jsonb` sorts by key length first), so an equal mapping
gives equal bytes.
"""

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent

__all__ = ["CONTENT_TYPE", "DATA_CONTENT_TYPE", "cloud_event"]

CONTENT_TYPE: Final = JSONFormat.CONTENT_TYPE  # "application/cloudevents+json"
DATA_CONTENT_TYPE: Final = "application/json"

_FORMAT: Final = JSONFormat()


def _sorted(value: Any) -> Any:
    """`value` with the keys of every object in sorted order (lists keep their order)."""
    if isinstance(value, Mapping):
        return {str(key): _sorted(value[key]) for key in sorted(value, key=str)}
    if isinstance(value, list | tuple):
        return [_sorted(item) for item in value]
    return value


def cloud_event(
    *,
    event_id: str,
    event_type: str,
    source: str,
    subject: str | None,
    time: datetime,
    data: Mapping[str, Any],
) -> bytes:
    """CloudEvents 1.0 structured-mode JSON: specversion, id, source, type, subject, time,
    datacontenttype application/json, data. Deterministic bytes for the same input."""
    if time.tzinfo is None:
        raise ValueError("the event time must be timezone-aware")
    attributes: dict[str, Any] = {
        "specversion": "1.0",
        "id": event_id,
        "source": source,
        "type": event_type,
    }
    if subject is not None:
        attributes["subject"] = subject
    attributes["time"] = time.astimezone(UTC)
    attributes["datacontenttype"] = DATA_CONTENT_TYPE
    # The SDK validates the attributes (non-empty id, source and type; an aware time) and
    # raises CloudEventValidationError, a ValueError's sibling, on a bad one.
    event = CloudEvent(attributes, _sorted(data))
    return _FORMAT.write(event)
