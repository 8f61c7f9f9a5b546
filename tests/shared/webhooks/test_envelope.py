"""The delivery body is a CloudEvents 1.0 event in the JSON format, byte for byte stable.

`cloudevents.schema.json` beside this file is the CloudEvents specification's own JSON
schema of the format (cloudevents/spec, `cloudevents/formats/cloudevents.json` at commit
c2845a49bc98, Apache License 2.0), copied unchanged. Formats (`uri-reference`,
`date-time`) are validated too.
"""

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
from cloudevents.core.exceptions import CloudEventValidationError
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent
from hypothesis import given
from hypothesis import strategies as st

from shared.webhooks.envelope import CONTENT_TYPE, cloud_event

SCHEMA = json.loads((Path(__file__).parent / "cloudevents.schema.json").read_text("utf-8"))
VALIDATOR = jsonschema_rs.Draft7Validator(SCHEMA, validate_formats=True)
AT = datetime(2026, 12, 6, 19, 0, 5, 250000, tzinfo=UTC)


def _event(**changes: Any) -> bytes:
    fields: dict[str, Any] = {
        "event_id": "evt_01J0000000000000000000000",
        "event_type": "nl.ketenpas.release.cancelled",
        "source": "https://release.ketenpas.example",
        "subject": "rel_42",
        "time": AT,
        "data": {"release_id": "rel_42", "container": "MSCU1234565", "reasons": ["x"]},
    }
    fields.update(changes)
    return cloud_event(**fields)


def test_the_content_type_is_the_structured_json_format() -> None:
    assert CONTENT_TYPE == "application/cloudevents+json"


def test_the_envelope_validates_against_the_specifications_schema() -> None:
    document = json.loads(_event())
    VALIDATOR.validate(document)
    assert document == {
        "specversion": "1.0",
        "id": "evt_01J0000000000000000000000",
        "source": "https://release.ketenpas.example",
        "type": "nl.ketenpas.release.cancelled",
        "subject": "rel_42",
        "time": "2026-12-06T19:00:05.250000Z",
        "datacontenttype": "application/json",
        "data": {"container": "MSCU1234565", "reasons": ["x"], "release_id": "rel_42"},
    }


def test_the_schema_check_can_fail() -> None:
    document = json.loads(_event())
    del document["source"]
    assert not VALIDATOR.is_valid(document)
    assert not VALIDATOR.is_valid({**json.loads(_event()), "time": "yesterday"})


def test_the_envelope_round_trips_through_the_sdks_parser() -> None:
    body = _event()
    event = JSONFormat().read(None, body)
    assert isinstance(event, CloudEvent)
    assert event.get_id() == "evt_01J0000000000000000000000"
    assert event.get_type() == "nl.ketenpas.release.cancelled"
    assert event.get_source() == "https://release.ketenpas.example"
    assert event.get_subject() == "rel_42"
    assert event.get_time() == AT
    assert event.get_datacontenttype() == "application/json"
    assert event.get_data() == {
        "release_id": "rel_42",
        "container": "MSCU1234565",
        "reasons": ["x"],
    }
    assert JSONFormat().write(event) == body


def test_without_a_subject_the_attribute_is_left_out() -> None:
    document = json.loads(_event(subject=None))
    VALIDATOR.validate(document)
    assert "subject" not in document


def test_a_time_in_another_zone_is_written_in_utc() -> None:
    amsterdam = timezone(timedelta(hours=1))
    assert _event(time=AT.astimezone(amsterdam)) == _event()


def test_a_naive_time_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        _event(time=datetime(2026, 12, 6, 19, 0))


@pytest.mark.parametrize("field", ["event_id", "event_type", "source"])
def test_an_empty_required_attribute_is_refused(field: str) -> None:
    with pytest.raises(CloudEventValidationError):
        _event(**{field: ""})


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=12,
)


def _reordered(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _reordered(value[key]) for key in reversed(list(value))}
    if isinstance(value, list):
        return [_reordered(item) for item in value]
    return value


@given(st.dictionaries(st.text(max_size=6), _JSON, max_size=5))
def test_equal_data_gives_equal_bytes_whatever_its_key_order(data: dict[str, Any]) -> None:
    body = _event(data=data)
    assert _event(data=_reordered(data)) == body
    assert _event(data=data) == body
    assert json.loads(body)["data"] == data
    VALIDATOR.validate(json.loads(body))
