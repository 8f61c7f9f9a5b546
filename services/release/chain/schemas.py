"""API models of the chain: submitting links and acknowledgements, and the verified chain."""

import uuid
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.release.chain.models import Link


class LinkSubmit(BaseModel):
    """A pre-signed link, or what a custodial link says (kind and receiver)."""

    model_config = ConfigDict(extra="forbid")

    link: str | None = Field(default=None, max_length=8192)
    kind: Literal["handover", "assignment"] | None = None
    to: str | None = Field(default=None, max_length=64)

    @model_validator(mode="after")
    def _one_way(self) -> Self:
        if self.link is not None and (self.kind is not None or self.to is not None):
            raise ValueError("send either a pre-signed link or kind and to, not both")
        if self.link is None and (self.kind is None or self.to is None):
            raise ValueError("send a pre-signed link, or kind and to")
        return self


class AckSubmit(BaseModel):
    """A pre-signed acknowledgement; leave it out to have it signed for the signed-in person."""

    model_config = ConfigDict(extra="forbid")

    ack: str | None = Field(default=None, max_length=8192)


class LinkView(BaseModel):
    """A link as stored."""

    seq: int
    kind: str
    from_party: str = Field(serialization_alias="from")
    to: str
    status: str
    jti: str
    link_hash: str

    @classmethod
    def of(cls, link: Link) -> "LinkView":
        """The view of a stored link."""
        return cls(
            seq=link.seq,
            kind=link.kind,
            from_party=link.from_party,
            to=link.to,
            status=link.status,
            jti=link.jti,
            link_hash=link.jws_hash,
        )


class Withdrawn(BaseModel):
    """The links a withdrawal took back."""

    withdrawn: list[int]


class CheckedLink(BaseModel):
    """One link with who signed it, with which key and credential, and the verdict."""

    seq: int
    kind: str | None
    from_party: str | None = Field(serialization_alias="from")
    to: str | None
    status: str
    signer: str | None
    kid: str | None
    credential_id: str | None
    credential_status: str
    result: str
    detail: str
    # The signed link and acknowledgement, as evidence; left out for callers who may not
    # see the release link's terms (its reference).
    jws: str | None = None
    ack: str | None = None


class ChainFailureView(BaseModel):
    """The first failure."""

    seq: int
    code: str
    detail: str


class ChainView(BaseModel):
    """The chain as it stands, verified now."""

    release_id: uuid.UUID
    verified: bool
    complete: bool
    failure: ChainFailureView | None
    holder: str | None
    driver: str | None
    links: list[CheckedLink]
