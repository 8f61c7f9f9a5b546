"""Inspection draws made exactly as the service makes them, without a database.

Each draw is the service's own computation (services/release/inspections/draws.py): the
alpha object ``{"v", "purpose", "subject", "checkpoint"}`` in RFC 8785 canonical JSON
(`alpha_bytes`), a real ECVRF proof under a fixed test seed (`shared.vrf.prove`), its
``beta`` (`proof_to_hash`) and ``u`` (`u_of`); selected when ``u < probability``. What the
service takes from its database is simulated here, from a seeded `random.Random`:

- the checkpoint: the audit log grows by a few events per draw, and its sequencer signs a
  new checkpoint (a new size and root) every few events, so several draws share one;
- container draws: gate decisions over days, busier by day than by night, each with an
  hour, a terminal, a carrier, a chain length and the risk factors these imply, and the
  probability `probability_of(policy, factors)` gives them;
- visit draws: one draw per site and slot, slot after slot (slots since the epoch, named
  by `slot_name`), each with the probability `slot_probability` gives for the rate of a
  flat profile (`rate_at`): a constant rate.

Nothing is cached between runs: every run proves every draw afresh, so a change in any of
those functions shows in the statistics. `u_source` replaces the VRF for the power tests
(test_power.py), which feed the same checks a deliberately weak generator.
"""

import base64
import hashlib
import math
import random
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

import numpy as np
from numpy.typing import NDArray

from services.release.inspections.draws import ALPHA_VERSION, alpha_bytes, u_of
from services.release.inspections.models import Purpose
from services.release.inspections.risk import RiskFactor, RiskPolicy, probability_of
from services.release.visits.rates import flat_profile, rate_at, slot_probability
from services.release.visits.slots import slot_name
from shared import iso6346, vrf

# The fixed test key: the VRF is deterministic given key and alpha, so a run is reproducible.
TEST_SEED: Final = hashlib.sha256(b"ketenpas tests/statistics VRF seed").digest()
START: Final = datetime(2026, 12, 1, tzinfo=UTC)
LOG_ORIGIN: Final = "ketenpas.test/release-log"
_UTC: Final = ZoneInfo("UTC")

# A policy that port security could set (policy.check_policy: floor <= base, multipliers in
# [1, 1000]), with distinct probability classes: the base (no factor; the floor never binds
# while multipliers are at least 1), several weighted ones, and some capped at 1 (always
# selected), by a combination of factors or by the declared origin alone.
POLICY: Final = RiskPolicy(
    base=0.03,
    floor=0.02,
    weights={
        RiskFactor.new_carrier: 3.0,
        RiskFactor.long_chain: 2.0,
        RiskFactor.driver_reassigned: 5.0,
        RiskFactor.first_pickup: 1.5,
        RiskFactor.declared_origin: 40.0,
    },
    origins=frozenset({"XA"}),
    long_chain_links=4,
)
TERMINALS: Final = tuple(uuid.UUID(int=0xA0 + i, version=4) for i in range(3))
CARRIERS: Final = tuple(f"carrier-{i:02d}" for i in range(12))
NEW_CARRIERS: Final = frozenset(CARRIERS[-3:])
ORIGINS: Final = ("NL", "DE", "BE", "CN", "BR", "XA")
# Chain lengths 1..7, most releases short; 4 links or more is a long chain under POLICY.
CHAIN_WEIGHTS: Final = (30, 30, 18, 10, 6, 4, 2)

SITES: Final = tuple(uuid.UUID(int=0xB0 + i, version=4) for i in range(3))
VISIT_RATE_PER_HOUR: Final = 0.4
SLOT_SECONDS: Final = 900

USource = Callable[[bytes], float]
FloatArray = NDArray[np.float64]


def vrf_u(alpha: bytes) -> float:
    """The service's u of `alpha`: a real ECVRF proof under the test seed, its beta, its u."""
    return u_of(vrf.proof_to_hash(vrf.prove(TEST_SEED, alpha)))


@dataclass(frozen=True)
class ContainerDraw:
    """One simulated gate decision and its draw."""

    at: datetime
    hour: int
    terminal: int
    carrier: int
    chain_length: int
    factors: frozenset[str]
    since_last_selection: float  # seconds since this terminal last selected; -1 before any
    probability: float
    u: float
    selected: bool


@dataclass(frozen=True)
class VisitDraw:
    """One simulated slot of one site and its draw."""

    at: datetime
    hour: int
    site: int
    slot: int  # the slot's index at its site, from 0
    since_last_visit: int  # slots since this site's last visit; -1 before any
    probability: float
    u: float
    selected: bool


class _Log:
    """The audit log as draws see it: a signed checkpoint every few events."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._size = 0
        self._root = hashlib.sha256(b"empty log").digest()
        self._checkpoint = self._sign()

    def _sign(self) -> dict[str, Any]:
        return {
            "origin": LOG_ORIGIN,
            "size": self._size,
            "root": base64.b64encode(self._root).decode("ascii"),
        }

    def checkpoint(self) -> dict[str, Any]:
        """The latest signed checkpoint, then the draw's own events appended."""
        current = self._checkpoint
        for _ in range(self._rng.randint(2, 3)):  # the decision, the draw, maybe an opening
            self._size += 1
            self._root = hashlib.sha256(self._root + self._size.to_bytes(8, "big")).digest()
        if self._size - current["size"] >= 8:  # the sequencer signs every 8 events or so
            self._checkpoint = self._sign()
        return current


def _alpha(purpose: Purpose, subject: Mapping[str, Any], checkpoint: Mapping[str, Any]) -> bytes:
    """The alpha of a draw, built as draws.draw builds it."""
    return alpha_bytes(
        {
            "v": ALPHA_VERSION,
            "purpose": str(purpose),
            "subject": dict(subject),
            "checkpoint": dict(checkpoint),
        }
    )


def _uuid(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


def _container_number(rng: random.Random) -> str:
    body = (
        "".join(rng.choices("ABCDEFGHIJKLMNOPQRSTUVWXYZ", k=3))
        + "U"
        + f"{rng.randrange(10**6):06d}"
    )
    return body + str(iso6346.check_digit(body))


def simulate_containers(
    count: int,
    *,
    seed: int = 12,
    policy: RiskPolicy = POLICY,
    u_source: USource = vrf_u,
) -> list[ContainerDraw]:
    """`count` gate decisions and their draws, as the gate would make them."""
    rng = random.Random(seed)  # the workload, not the draws, comes from here
    log = _Log(rng)
    at = START
    last_selection: dict[int, datetime] = {}
    draws: list[ContainerDraw] = []
    for _ in range(count):
        # About 40 decisions an hour by day (06-22), 8 by night.
        per_hour = 40.0 if 6 <= at.hour < 22 else 8.0
        at += timedelta(seconds=rng.expovariate(per_hour / 3600))
        terminal = rng.randrange(len(TERMINALS))
        carrier = rng.randrange(len(CARRIERS))
        chain_length = rng.choices(range(1, 8), weights=CHAIN_WEIGHTS)[0]
        origin = rng.choices(ORIGINS, weights=(40, 25, 15, 12, 7, 1))[0]
        factors: set[str] = set()
        if CARRIERS[carrier] in NEW_CARRIERS:
            factors.add(RiskFactor.new_carrier)
        if chain_length >= policy.long_chain_links:
            factors.add(RiskFactor.long_chain)
        if rng.random() < 0.05:
            factors.add(RiskFactor.driver_reassigned)
        if rng.random() < (0.25 if at.hour < 6 else 0.12):  # new drivers take the night shifts
            factors.add(RiskFactor.first_pickup)
        if origin in policy.origins:
            factors.add(RiskFactor.declared_origin)
        probability = probability_of(policy, factors)
        # The subject as inspections.service.select_at_gate names it.
        subject = {
            "release": str(_uuid(rng)),
            "visit": 1,
            "container": _container_number(rng),
            "terminal": str(TERMINALS[terminal]),
            "policy": policy.version,
            "factors": sorted(factors),
        }
        u = u_source(_alpha(Purpose.container, subject, log.checkpoint()))
        selected = u < probability
        last = last_selection.get(terminal)
        draws.append(
            ContainerDraw(
                at=at,
                hour=at.hour,
                terminal=terminal,
                carrier=carrier,
                chain_length=chain_length,
                factors=frozenset(factors),
                since_last_selection=-1.0 if last is None else (at - last).total_seconds(),
                probability=probability,
                u=u,
                selected=selected,
            )
        )
        if selected:
            last_selection[terminal] = at
    return draws


def simulate_visits(
    count: int,
    *,
    seed: int = 12,
    rate_per_hour: float = VISIT_RATE_PER_HOUR,
    slot_seconds: int = SLOT_SECONDS,
    u_source: USource = vrf_u,
    schedule: Callable[[int], float] | None = None,
) -> list[VisitDraw]:
    """`count` visit draws: every site's slots in turn, at a constant rate.

    `schedule`, for the power tests only, replaces the constant probability by one that
    depends on the slots since the site's last visit (a patterned schedule).
    """
    rng = random.Random(seed)  # the checkpoints, not the draws, come from here
    log = _Log(rng)
    profile = flat_profile(rate_per_hour)
    last_visit: dict[int, int] = {}
    draws: list[VisitDraw] = []
    slot = 0
    while len(draws) < count:
        at = START + timedelta(seconds=slot * slot_seconds)
        for site in range(len(SITES)):
            if len(draws) == count:
                break
            last = last_visit.get(site)
            since = -1 if last is None else slot - last
            # As visits.service.draw_slot: the profile's rate at the slot's start.
            constant = slot_probability(rate_at(profile, at, _UTC), slot_seconds)
            probability = constant if schedule is None else schedule(since)
            subject = {"site": str(SITES[site]), "slot": slot_name(at)}
            u = u_source(_alpha(Purpose.visit, subject, log.checkpoint()))
            selected = u < probability
            draws.append(
                VisitDraw(
                    at=at,
                    hour=at.hour,
                    site=site,
                    slot=slot,
                    since_last_visit=since,
                    probability=probability,
                    u=u,
                    selected=selected,
                )
            )
            if selected:
                last_visit[site] = slot
        slot += 1
    return draws


# Columns of `container_features`: what an insider sees of a decision, then the factors
# the true probability uses and that probability itself (as a logit, clipped at p = 1).
# Given the probability, a model needs nothing more to be as good as the truth, so its own
# estimation cost stays small and whatever it gains beyond the truth is a leak.
# Hour, terminal and carrier are categories.
CONTAINER_COLUMNS: Final = (
    "hour",
    "terminal",
    "carrier",
    "chain_length",
    "hours_since_last_selection",
    *(str(factor) for factor in RiskFactor),
    "logit_probability",
)
_LOGIT_CLIP: Final = 1e-6
CONTAINER_CATEGORICAL: Final = (0, 1, 2)


def _logit(p: float) -> float:
    p = min(max(p, _LOGIT_CLIP), 1 - _LOGIT_CLIP)
    return math.log(p / (1 - p))


def container_features(draws: Sequence[ContainerDraw]) -> FloatArray:
    """One row per draw: CONTAINER_COLUMNS (hours since the last selection -1 before any)."""
    return np.asarray(
        [
            [
                d.hour,
                d.terminal,
                d.carrier,
                d.chain_length,
                d.since_last_selection / 3600 if d.since_last_selection >= 0 else -1.0,
                *(float(factor in d.factors) for factor in RiskFactor),
                _logit(d.probability),
            ]
            for d in draws
        ],
        dtype=float,
    )


VISIT_CATEGORICAL: Final = (0,)


def visit_features(draws: Sequence[VisitDraw]) -> FloatArray:
    """One row per draw: hour, slots since the site's last visit (-1 before any)."""
    return np.asarray([[d.hour, d.since_last_visit] for d in draws], dtype=float)
