"""API models of the gate: the question, the decision, the gate-out."""

import uuid
from datetime import datetime
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator


class DecisionRequest(BaseModel):
    """May this driver take this container? With a gate pass, or driver id and TOTP (kiosk)."""

    model_config = ConfigDict(extra="forbid")

    container: str = Field(max_length=32, examples=["CSQU3054383"])
    gate_pass: str | None = Field(default=None, max_length=4096)
    driver: uuid.UUID | None = None
    otp: str | None = Field(default=None, pattern=r"^[0-9]{6,8}$")

    @model_validator(mode="after")
    def _one_proof(self) -> Self:
        kiosk = self.driver is not None or self.otp is not None
        if self.gate_pass is not None and kiosk:
            raise ValueError("send either a gate pass, or driver and otp")
        if self.gate_pass is None and (self.driver is None or self.otp is None):
            raise ValueError("send a gate pass, or driver and otp")
        return self


class Reason(BaseModel):
    """Why the gate decided as it did; a broken chain also names the failing link."""

    code: str
    detail: str
    seq: int | None = None
    link_code: str | None = None


class DecisionView(BaseModel):
    """The gate's answer."""

    decision_id: uuid.UUID
    decision: str
    reasons: list[Reason]
    release_id: uuid.UUID | None
    event_id: uuid.UUID
    container: str
    driver: uuid.UUID | None
    decided_at: datetime
    # The verifiable draw behind a `release` or `inspect` (GET /v1/inspections/draws), and
    # for `inspect` the inspection that holds the container.
    draw_id: uuid.UUID | None = None
    inspection_id: uuid.UUID | None = None


class GateOutView(BaseModel):
    """The gate-out, recorded once."""

    decision_id: uuid.UUID
    release_id: uuid.UUID
    completed_at: datetime
    event_id: uuid.UUID
