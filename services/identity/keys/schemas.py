"""API models of the party keys area and of custodial signing."""

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from services.identity.keys.models import KeyNotice, PartyKey
from shared.jose import MAX_TOKEN_LENGTH


class KeyRegister(BaseModel):
    """Register an Ed25519 public key: a party's own key, or a driver's device key."""

    model_config = ConfigDict(extra="forbid")

    jwk: dict[str, Any] = Field(
        examples=[
            {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}
        ]
    )
    proof: str | None = Field(
        default=None,
        max_length=MAX_TOKEN_LENGTH,
        description="A `ketenpas-key-proof+jwt` signed by a current key of the party that"
        " holds a valid credential (needed unless an administrator registers the key).",
    )
    new_key_proof: str | None = Field(
        default=None,
        max_length=MAX_TOKEN_LENGTH,
        description="The same claims signed by the new key (proof that its holder has it).",
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
    person_id: uuid.UUID | None = Field(
        default=None, description="Set for a person's device key: whose it is."
    )

    @classmethod
    def of(cls, key: PartyKey) -> "PartyKeyView":
        """The public view of a stored key, whether the service holds its private half, and
        whose device it is."""
        return cls(**dict(PublicKeyView.of(key)), custodial=key.custodial, person_id=key.person_id)


class DeviceKeyRegistered(BaseModel):
    """A driver's device key and the device credential issued for it."""

    key: PartyKeyView
    credential_id: uuid.UUID
    credential: str


class KeyNoticeView(BaseModel):
    """A change to a party's keys, as its administrators are told of it."""

    notice_id: int
    party_id: str
    kid: str
    event: str
    actor: str
    detail: dict[str, Any]
    created_at: datetime

    @classmethod
    def of(cls, notice: KeyNotice) -> "KeyNoticeView":
        """The view of a stored notice."""
        if notice.id is None:
            raise ValueError("a key notice has a view only once it is stored")
        return cls(
            notice_id=notice.id,
            party_id=notice.party_id,
            kid=notice.kid,
            event=notice.event,
            actor=notice.actor,
            detail=dict(notice.detail),
            created_at=notice.created_at,
        )


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
