"""Slot arithmetic and rate profiles: every process, and the verifier, cut time alike."""

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from services.release.visits.rates import check_profile, flat_profile, rate_at
from services.release.visits.slots import slot_ceil, slot_floor, slot_name

LENGTHS = st.sampled_from([60, 120, 300, 600, 900, 1800, 3600])
MOMENTS = st.datetimes(
    min_value=datetime(1971, 1, 1),
    max_value=datetime(2200, 1, 1),
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=-5)), ZoneInfo("Europe/Amsterdam")]),
)


@given(MOMENTS, LENGTHS)
def test_a_moment_lies_in_exactly_one_slot_on_the_epoch_grid(moment: datetime, length: int) -> None:
    floor = slot_floor(moment, length)
    assert floor <= moment < floor + timedelta(seconds=length)
    assert int(floor.timestamp()) % length == 0
    ceil = slot_ceil(moment, length)
    assert ceil >= moment and ceil - floor in (timedelta(0), timedelta(seconds=length))
    assert (ceil == floor) == (moment == floor)


@given(MOMENTS, LENGTHS)
def test_a_slots_name_is_its_start_in_utc(moment: datetime, length: int) -> None:
    floor = slot_floor(moment, length)
    name = slot_name(floor)
    assert name.endswith("Z") and datetime.fromisoformat(name) == floor


def test_a_profile_is_read_on_the_ports_clock() -> None:
    profile = flat_profile(0.0)
    profile[6][23] = 5.0  # Sunday 23:00-24:00 in Rotterdam
    sunday_late = datetime(2026, 12, 6, 22, 30, tzinfo=UTC)  # 23:30 in Amsterdam (CET)
    assert rate_at(profile, sunday_late, ZoneInfo("Europe/Amsterdam")) == 5.0
    assert rate_at(profile, sunday_late, ZoneInfo("UTC")) == 0.0
    assert check_profile(profile) is None
    assert check_profile([[1.0] * 24] * 6) is not None
    assert check_profile([[float("nan")] * 24] * 7) is not None
