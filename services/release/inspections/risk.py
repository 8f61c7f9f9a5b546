"""Risk-weighted selection: the probability that a gate decision selects its container.

Port security sets a policy per terminal: a base probability, a floor, and a multiplier
per risk factor. The probability is

    min(1, max(floor, base * the product of the multipliers of the factors present))

Multipliers are at least 1: a factor can only raise the probability. Were a multiplier
below 1 allowed, a policy could whitelist a carrier or an origin in all but name; with
them, the floor is the least any container is ever drawn with, and the floor itself can be
set no lower than the deployment's minimum (`inspect_floor_minimum`), so that no policy
makes a container unselectable.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum


class RiskFactor(StrEnum):
    """What the gate knows of a pickup that makes it riskier (docs/inspections.md)."""

    new_carrier = "new_carrier"  # the driver's party first appeared in a chain recently
    long_chain = "long_chain"  # more links than the policy calls usual
    driver_reassigned = "driver_reassigned"  # an assignment of the release was withdrawn
    first_pickup = "first_pickup"  # the driver has never completed a gate-out here
    declared_origin = "declared_origin"  # the release declares an origin the policy names


@dataclass(frozen=True)
class RiskPolicy:
    """A terminal's selection policy (version 0: the deployment's default)."""

    base: float
    floor: float
    weights: Mapping[str, float] = field(default_factory=dict)
    # Countries of origin (ISO 3166 alpha-2) that make `declared_origin` present.
    origins: frozenset[str] = frozenset()
    long_chain_links: int = 4
    new_carrier_days: int = 30
    daily_capacity: int | None = None
    version: int = 0


def probability_of(policy: RiskPolicy, factors: Iterable[str]) -> float:
    """The probability a pickup with these factors is selected with, under the policy."""
    weighted = policy.base
    # In one order, so that everyone who recomputes the product gets the very same float.
    for factor in sorted(set(factors)):
        weighted *= policy.weights.get(factor, 1.0)
    return min(1.0, max(policy.floor, weighted))
