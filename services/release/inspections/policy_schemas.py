"""API models of terminals' selection policies."""

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from services.release.inspections.risk import RiskFactor, RiskPolicy


class PolicySet(BaseModel):
    """A terminal's selection policy, as port security sets it (docs/inspections.md)."""

    model_config = ConfigDict(extra="forbid")

    base: float = Field(ge=0.0, le=1.0, examples=[0.02])
    floor: float = Field(ge=0.0, le=1.0, examples=[0.005])
    weights: dict[RiskFactor, float] = Field(
        default_factory=dict, examples=[{"new_carrier": 2.0, "driver_reassigned": 3.0}]
    )
    # Countries of origin (ISO 3166 alpha-2) that make `declared_origin` present.
    origins: list[Annotated[str, Field(pattern=r"^[A-Z]{2}$")]] = Field(
        default_factory=list, max_length=250, examples=[["CO", "EC"]]
    )
    long_chain_links: int = Field(default=4, ge=2, le=64)
    new_carrier_days: int = Field(default=30, ge=0, le=3660)
    daily_capacity: int | None = Field(default=None, ge=0, le=100_000)

    def policy(self) -> RiskPolicy:
        """The policy to check and store."""
        return RiskPolicy(
            base=self.base,
            floor=self.floor,
            weights={str(factor): weight for factor, weight in self.weights.items()},
            origins=frozenset(self.origins),
            long_chain_links=self.long_chain_links,
            new_carrier_days=self.new_carrier_days,
            daily_capacity=self.daily_capacity,
        )


class PolicyView(BaseModel):
    """A terminal's policy now; version 0 is the deployment's default."""

    terminal: str
    version: int
    base: float
    floor: float
    weights: dict[str, float]
    origins: list[str]
    long_chain_links: int
    new_carrier_days: int
    daily_capacity: int | None
    set_by: str | None
    set_at: datetime | None
    # Selections counted against today's capacity (the port's day).
    used_today: int
