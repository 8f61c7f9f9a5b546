"""The gate: spent gate passes, decisions, and the one gate-out per release."""

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, Text
from sqlmodel import Field, SQLModel

from shared.models import UTCDateTime, utcnow


class UsedGatePass(SQLModel, table=True):
    """A gate pass `jti` spent at a gate; the primary key makes it once."""

    __tablename__ = "used_gate_passes"

    jti: str = Field(primary_key=True, max_length=200)
    person_id: uuid.UUID = Field(index=True)
    party_id: str = Field(max_length=40)
    used_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime, index=True)


class Decision(StrEnum):
    """What the gate says (docs/design.md, Domain)."""

    release = "release"
    inspect = "inspect"
    deny = "deny"


class GateDecision(SQLModel, table=True):
    """One question at the gate and its answer, with the reasons."""

    __tablename__ = "gate_decisions"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    container: str = Field(index=True, max_length=11)
    terminal_id: str = Field(index=True, max_length=40)
    release_id: uuid.UUID | None = Field(default=None, foreign_key="releases.id", index=True)
    driver_id: uuid.UUID | None = Field(default=None, index=True)
    method: str = Field(max_length=16)
    decision: str = Field(max_length=16)
    reasons: list[dict[str, Any]] = Field(sa_column=Column(JSON, nullable=False))
    gate_pass_jti: str | None = Field(default=None, max_length=200)
    decided_by: str = Field(max_length=100)
    decided_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    event_id: uuid.UUID
    completed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # The inspection draw that decided between `release` and `inspect` (none for a `deny`),
    # and the inspection a selection opened or found open.
    draw_id: uuid.UUID | None = Field(default=None)
    inspection_id: uuid.UUID | None = Field(default=None)


class GateOut(SQLModel, table=True):
    """The container left the terminal: one row per release, ever."""

    __tablename__ = "gate_outs"

    release_id: uuid.UUID = Field(foreign_key="releases.id", primary_key=True)
    decision_id: uuid.UUID = Field(foreign_key="gate_decisions.id", unique=True)
    completed_by: str = Field(max_length=100)
    completed_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class JudgedStatusList(SQLModel, table=True):
    """A status-list token a gate decision was judged with, kept once by its hash, so that an
    evidence bundle can show the statuses as the gate saw them (docs/evidence.md)."""

    __tablename__ = "judged_status_lists"

    # SHA-256 of the token's text, base64url without padding: what `gate.decided` names.
    token_sha256: str = Field(primary_key=True, max_length=43)
    uri: str = Field(max_length=500)
    token: str = Field(sa_type=Text)
    first_judged_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
