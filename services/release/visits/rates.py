"""Visit rates: visits per hour by day of week and hour of day, and a slot's chance.

Visits follow a non-homogeneous Poisson process. Cut into short slots, a process of rate
λ(t) has a visit in the slot [t, t + Δ) with probability ≈ λ(t)·Δ (the next order term is
what the cap at 1 absorbs); deciding each slot by its own draw, just before it starts,
makes the gaps between visits exponential without any schedule existing beforehand.

A profile is seven rows (Monday first, ISO 8601) of 24 rates, read at the slot's start in
the port's time zone (setting `visit_timezone`): the dog team's shifts follow the port's
clock, not UTC.
"""

import math
from collections.abc import Sequence
from datetime import datetime
from typing import Final
from zoneinfo import ZoneInfo

DAYS: Final = 7
HOURS: Final = 24
# More than one visit a minute is a typing error, not a plan.
MAX_RATE_PER_HOUR: Final = 60.0

Profile = list[list[float]]


def slot_probability(rate_per_hour: float, slot_seconds: int) -> float:
    """The chance of a visit in one slot: min(1, rate * slot length in hours)."""
    return min(1.0, rate_per_hour * slot_seconds / 3600)


def flat_profile(rate_per_hour: float) -> Profile:
    """The same rate at every hour of every day."""
    return [[rate_per_hour] * HOURS for _ in range(DAYS)]


def check_profile(rates: Sequence[Sequence[float]]) -> str | None:
    """Why a profile is not one (None if it is): 7 rows of 24 finite rates in [0, 60]."""
    if len(rates) != DAYS or any(len(row) != HOURS for row in rates):
        return "a profile is 7 rows (Monday first) of 24 hourly rates"
    for row in rates:
        for rate in row:
            if not math.isfinite(rate) or not 0.0 <= rate <= MAX_RATE_PER_HOUR:
                return f"each rate is a number of visits per hour in [0, {MAX_RATE_PER_HOUR:g}]"
    return None


def rate_at(rates: Sequence[Sequence[float]], moment: datetime, zone: ZoneInfo) -> float:
    """The profile's rate at `moment`, read on the port's clock."""
    local = moment.astimezone(zone)
    return float(rates[local.weekday()][local.hour])
