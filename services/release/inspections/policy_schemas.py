"""API models of terminals' selection policies."""

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from services.release.inspections.models import InspectionPolicy
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


class PolicyVersion(BaseModel):
    """One stored version of a terminal's policy, with its event in the audit log."""

    terminal: str
    version: int
    base: float
    floor: float
    weights: dict[str, float]
    origins: list[str]
    long_chain_links: int
    new_carrier_days: int
    daily_capacity: int | None
    set_by: str
    set_at: datetime
    event_id: uuid.UUID
    logged_event: str | None  # the event as logged (canonical JSON), to check its receipt

    @classmethod
    def of(cls, stored: InspectionPolicy, logged_event: str | None) -> "PolicyVersion":
        """The API form of a stored version."""
        return cls(
            terminal=stored.terminal_id,
            version=stored.version,
            base=stored.base,
            floor=stored.floor,
            weights=stored.weights,
            origins=stored.origins,
            long_chain_links=stored.long_chain_links,
            new_carrier_days=stored.new_carrier_days,
            daily_capacity=stored.daily_capacity,
            set_by=stored.set_by,
            set_at=stored.set_at,
            event_id=stored.event_id,
            logged_event=logged_event,
        )


class PolicyVersions(BaseModel):
    """Every version of a terminal's policy, oldest first."""

    versions: list[PolicyVersion]
