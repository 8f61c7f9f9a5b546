"""API models of the party keys area and of custodial signing."""

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from services.identity.keys.models import PartyKey


class KeyRegister(BaseModel):
    """Register a party's own Ed25519 public key."""

    model_config = ConfigDict(extra="forbid")

    jwk: dict[str, Any] = Field(
        examples=[
            {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}
        ]
    )


class KeyRotate(BaseModel):
    """Rotate: with `jwk` the party's own keys, without it its custodial key."""

    model_config = ConfigDict(extra="forbid")

    jwk: dict[str, Any] | None = None


class PublicKeyView(BaseModel):
    """A key by kid, for anyone who verifies a signature: the public half only."""

    kid: str
    party_id: str
    public_jwk: dict[str, Any]
    status: str
    created_at: datetime
    retired_at: datetime | None

    @classmethod
    def of(cls, key: PartyKey) -> "PublicKeyView":
        """The view of a stored key, field by field (the sealed private key is not copied)."""
        return cls(
            kid=key.kid,
            party_id=key.party_id,
            public_jwk=dict(key.public_jwk),
            status=key.status,
            created_at=key.created_at,
            retired_at=key.retired_at,
        )


class PartyKeyView(PublicKeyView):
    """A party key as the API shows it to authenticated callers: also whether it is custodial."""

    custodial: bool

    @classmethod
    def of(cls, key: PartyKey) -> "PartyKeyView":
        """The public view of a stored key, and whether the service holds its private half."""
        return cls(**dict(PublicKeyView.of(key)), custodial=key.custodial)


class RotationView(BaseModel):
    """The outcome of a rotation: the new key and the ones it retired."""

    key: PartyKeyView
    retired: list[PartyKeyView]


class SignRequest(BaseModel):
    """Sign a link or an acceptance with the caller's party's custodial key."""

    model_config = ConfigDict(extra="forbid")

    typ: Literal["ketenpas-link+jwt", "ketenpas-ack+jwt"]
    claims: dict[str, Any]


class Signed(BaseModel):
    """A compact JWS and the kid of the key that signed it."""

    jws: str
    kid: str
