"""API models of the credentials area."""

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from services.identity.parties.models import PartyRole

PartyId = Annotated[str, StringConstraints(min_length=1, max_length=40)]
Kid = Annotated[str, StringConstraints(min_length=1, max_length=64)]


class CredentialIssue(BaseModel):
    """Issue a credential binding a party to one of its active keys."""

    model_config = ConfigDict(extra="forbid")

    party_id: PartyId
    kid: Kid
    roles: list[PartyRole] | None = Field(
        default=None,
        max_length=len(PartyRole),
        description="A subset of the party's roles; the party's roles when absent.",
    )


class StatusReference(BaseModel):
    """Where a credential's status lives: an index into a Token Status List."""

    idx: int
    uri: str


class CredentialIssued(BaseModel):
    """A freshly issued credential."""

    credential_id: uuid.UUID
    credential: str
    status: StatusReference


class CredentialView(BaseModel):
    """A credential and its current status."""

    credential_id: uuid.UUID
    party_id: str
    kid: str
    roles: list[str]
    issued_at: datetime
    not_before: datetime
    expires_at: datetime
    status: str = Field(description="valid, suspended or invalid (revoked)")
    suspended: bool = Field(description="suspended on its own, apart from its party")
    status_list: StatusReference
    credential: str


class CredentialList(BaseModel):
    """A party's credentials, newest first."""

    credentials: list[CredentialView]


class PartyDirectoryEntry(BaseModel):
    """A party's credentials as anyone may read them: signed statements, newest first."""

    party_id: str
    credentials: list[str] = Field(
        description="Compact `ketenpas-credential+jwt`s, revoked and suspended ones included:"
        " the status list each names says whether it counts."
    )


class PersonDirectoryEntry(BaseModel):
    """A person's device credentials as anyone may read them: signed statements, newest first."""

    person_id: uuid.UUID
    party_id: str
    credentials: list[str] = Field(
        description="Compact `ketenpas-credential+jwt`s whose `sub` is the person, revoked and"
        " suspended ones included: the status list each names says whether it counts."
    )
