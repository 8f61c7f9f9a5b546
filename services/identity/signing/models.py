"""The identity service's own signing keys (credentials, tokens, status lists, gate passes)."""

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, LargeBinary
from sqlmodel import Field, SQLModel

from shared.models import UTCDateTime, utcnow


class SigningKey(SQLModel, table=True):
    """A service key: published from creation, signs from `activates_at` until replaced,
    and stays published until `publish_until` (when what it signed has expired)."""

    __tablename__ = "signing_keys"

    kid: str = Field(primary_key=True, max_length=64)
    public_jwk: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    sealed_private: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    activates_at: datetime = Field(sa_type=UTCDateTime)
    retired_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    publish_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
