"""The checks have power: each rejects a generator that breaks what the draws promise.

A statistics test that cannot fail shows nothing. Here the checks of
test_draw_statistics.py, unchanged, read draws from deliberately weak generators and must
reject them at the same ALPHA = 0.001; a control run of the same size, with a sound u,
must not. To keep `make test` fast these draws take u from SHA-256 of the alpha (a sound
but unkeyed stand-in for the VRF) instead of proving each one; the workload, the alphas
and the probabilities are the simulation's own. Sizes are fixed, not scaled by
KETENPAS_STATISTICS_DRAWS: each weakness below is found well inside them.
"""

import hashlib
import itertools
import math
from collections.abc import Callable
from dataclasses import replace

import numpy as np
import pytest

from services.release.visits.rates import slot_probability
from tests.statistics import checks
from tests.statistics.simulate import (
    CONTAINER_CATEGORICAL,
    POLICY,
    SLOT_SECONDS,
    VISIT_CATEGORICAL,
    VISIT_RATE_PER_HOUR,
    ContainerDraw,
    USource,
    VisitDraw,
    container_features,
    simulate_containers,
    simulate_visits,
    visit_features,
)

# The models need the most draws to see the shift-start leak (gradient boosting: z = 4.7 at
# 20,000, short of the threshold at 10,000); the other flaws show at far fewer.
POWER_CONTAINERS = 20_000
POWER_VISITS = 10_000
SLOT_P = slot_probability(VISIT_RATE_PER_HOUR, SLOT_SECONDS)


def sha256_u(alpha: bytes) -> float:
    """A sound u for the control: the first 8 bytes of SHA-256 of alpha, over 2^64."""
    return int.from_bytes(hashlib.sha256(alpha).digest()[:8], "big") / 2**64


def four_bit_u(alpha: bytes) -> float:
    """A weak source: only 4 bits of randomness, so u takes 16 values."""
    return (hashlib.sha256(alpha).digest()[0] >> 4) / 16


def weyl_u() -> USource:
    """A weak source: frac(n * golden ratio), evenly spread but each u foretells the next."""
    counter = itertools.count(1)
    step = (math.sqrt(5) - 1) / 2
    return lambda alpha: (next(counter) * step) % 1.0


def resting_schedule(since_last: int) -> float:
    """A patterned schedule: no visit in the 3 slots after one, then more often, same mean gap."""
    if 0 < since_last <= 3:
        return 0.0
    return 1 / (1 / SLOT_P - 3)


def _shift_start_leak(draws: list[ContainerDraw]) -> list[ContainerDraw]:
    """A leak: in the first hour of each shift (06, 14, 22) u is a quarter of the sound u."""
    leaked = []
    for d in draws:
        u = d.u / 4 if d.hour in (6, 14, 22) else d.u
        leaked.append(replace(d, u=u, selected=u < d.probability))
    return leaked


def _cap_at_half(draws: list[ContainerDraw]) -> list[ContainerDraw]:
    """A bug: the comparison caps the probability at 0.5, the log says the probability due."""
    return [replace(d, selected=d.u < min(d.probability, 0.5)) for d in draws]


def _weight_forgotten(draws: list[ContainerDraw]) -> list[ContainerDraw]:
    """A bug: first_pickup's multiplier left out of the comparison, the log says it was in."""
    buggy = []
    for d in draws:
        used = POLICY.base
        for factor in d.factors - {"first_pickup"}:
            used *= POLICY.weights[factor]
        buggy.append(replace(d, selected=d.u < min(1.0, max(POLICY.floor, used))))
    return buggy


@pytest.fixture(scope="module")
def sound_containers() -> list[ContainerDraw]:
    return simulate_containers(POWER_CONTAINERS, u_source=sha256_u)


@pytest.fixture(scope="module")
def sound_visits() -> list[VisitDraw]:
    return simulate_visits(POWER_VISITS, u_source=sha256_u)


def _selection(draws: list[ContainerDraw]) -> checks.Result:
    return checks.selection_by_class([d.probability for d in draws], [d.selected for d in draws])


def _visit_checks(draws: list[VisitDraw]) -> list[checks.Result]:
    gaps = checks.gaps_in_slots(
        [d.site for d in draws], [d.slot for d in draws], [d.selected for d in draws]
    )
    return [
        checks.gaps_geometric(gaps, SLOT_P),
        checks.gaps_exponential(gaps, SLOT_P, SLOT_SECONDS),
        checks.hazard_independence(
            [d.since_last_visit for d in draws], [d.selected for d in draws]
        ),
        checks.no_better_than_truth(
            "visits, gradient_boosting",
            checks.gradient_boosting(VISIT_CATEGORICAL),
            visit_features(draws),
            np.asarray([d.probability for d in draws]),
            np.asarray([d.selected for d in draws]),
        ),
    ]


def _container_models(draws: list[ContainerDraw]) -> list[checks.Result]:
    features = container_features(draws)
    truth = np.asarray([d.probability for d in draws])
    selected = np.asarray([d.selected for d in draws])
    return [
        checks.no_better_than_truth(
            "containers, gradient_boosting",
            checks.gradient_boosting(CONTAINER_CATEGORICAL),
            features,
            truth,
            selected,
        ),
        checks.no_better_than_truth(
            "containers, logistic_regression",
            checks.logistic_regression(CONTAINER_CATEGORICAL),
            features,
            truth,
            selected,
        ),
    ]


def _show(results: list[checks.Result]) -> None:
    for result in results:
        print(f"\n{result}")


def test_the_control_passes_every_check(
    sound_containers: list[ContainerDraw], sound_visits: list[VisitDraw]
) -> None:
    """With a sound u the checks accept (alpha = 0.001): the rejections below come from the flaw."""
    u = [d.u for d in sound_containers] + [d.u for d in sound_visits]
    results = [
        _selection(sound_containers),
        checks.uniform_chi2(u),
        checks.uniform_ks(u),
        *_visit_checks(sound_visits),
        *_container_models(sound_containers),
    ]
    _show(results)
    assert not any(result.rejected for result in results)


def test_a_four_bit_u_is_rejected() -> None:
    """u with 4 bits: selection frequencies and both uniformity checks reject it."""
    draws = simulate_containers(POWER_VISITS, u_source=four_bit_u)
    u = [d.u for d in draws]
    results = [_selection(draws), checks.uniform_chi2(u), checks.uniform_ks(u)]
    _show(results)
    assert all(result.rejected for result in results)


@pytest.mark.parametrize("bug", [_cap_at_half, _weight_forgotten])
def test_a_probability_applied_wrongly_is_rejected(
    bug: Callable[[list[ContainerDraw]], list[ContainerDraw]],
    sound_containers: list[ContainerDraw],
) -> None:
    """Selecting with another probability than the one logged: the class check rejects."""
    result = _selection(bug(sound_containers))
    _show([result])
    assert result.rejected


def test_a_weyl_sequence_is_rejected_by_the_visit_checks() -> None:
    """An evenly spread but predictable u: gaps, hazard and the model all reject it."""
    draws = simulate_visits(POWER_VISITS, u_source=weyl_u())
    u = [d.u for d in draws]
    # Too even to fail the uniformity check: that is why the gaps are tested too.
    assert not checks.uniform_ks(u).rejected
    results = _visit_checks(draws)
    _show(results)
    assert all(result.rejected for result in results)


def test_a_resting_schedule_is_rejected_by_the_visit_checks() -> None:
    """Visits that never come back within 3 slots, at the same mean rate: every visit check
    rejects them."""
    draws = simulate_visits(POWER_VISITS, u_source=sha256_u, schedule=resting_schedule)
    selected = np.asarray([d.selected for d in draws])
    assert abs(selected.mean() - SLOT_P) < 0.01  # the rate is right; the pattern is not
    results = _visit_checks(
        [replace(d, probability=SLOT_P) for d in draws]  # logged as the constant rate
    )
    _show(results)
    assert all(result.rejected for result in results)


def test_a_shift_start_leak_is_found_by_the_models(sound_containers: list[ContainerDraw]) -> None:
    """Selections more likely in the first hour of a shift: both models beat the truth."""
    results = _container_models(_shift_start_leak(sound_containers))
    _show(results)
    assert all(result.rejected for result in results)
