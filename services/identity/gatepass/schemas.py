"""API models of gate passes."""

from pydantic import BaseModel, ConfigDict

from services.identity.sessions.schemas import Otp


class GatePassRequest(BaseModel):
    """A fresh TOTP code; leave it out when a recent sign-in (the person token) is the proof."""

    model_config = ConfigDict(extra="forbid")

    otp: Otp | None = None


class GatePassResponse(BaseModel):
    """A signed `ketenpas-gatepass+jwt`, to show at the gate (as a QR code) before it expires."""

    gate_pass: str
    expires_in: int
