"""The exposure report's API models: what the identity half says, and the whole report.

`IdentityExposure` reads the identity service's answer (its `PartyExposureView`): only the
members used here, others ignored, so either service can add to its answer first.
`ExposureReport` is the contract of `GET /v1/parties/{party_id}/exposure` on this service
(docs/exposure.md).
"""

import uuid
from datetime import date, datetime

from pydantic import BaseModel, ConfigDict


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")


class CustodialSigningView(_Lenient):
    """What the identity service signs with the party's custodial key for a role."""

    link_kinds: list[str]
    accepts: bool


class IdentityRole(_Lenient):
    """One person role of the party, as the identity service reports it."""

    role: str
    active: int
    suspended: int
    custodial_signing: CustodialSigningView
    sees_party_people: bool


class IdentityPerson(_Lenient):
    """One person of the party, as the identity service reports him."""

    person_id: uuid.UUID
    name: str
    role: str
    status: str
    screened_until: date | None
    active_device_keys: int
    custodial_signing: bool


class KeyView(_Lenient):
    """One key of the party: `kind` own | custodial | device; `certified` when it holds a
    credential that counts now."""

    kid: str
    kind: str
    status: str
    person_id: uuid.UUID | None
    certified: bool
    created_at: datetime
    retired_at: datetime | None


class ApiClientView(_Lenient):
    """A key the party's API client authenticates with, and the scopes it may be granted."""

    kid: str
    scopes: list[str]


class IdentityExposure(_Lenient):
    """The identity half of the report (`GET /v1/parties/{id}/exposure` there)."""

    party_id: str
    name: str
    party_roles: list[str]
    status: str
    client_scopes: list[str]
    roles: list[IdentityRole]
    people: list[IdentityPerson]
    keys: list[KeyView]
    api_clients: list[ApiClientView]


class RightView(BaseModel):
    """One route a role passes: its area, whether it reads or writes, and its reach."""

    area: str
    action: str
    method: str
    path: str
    summary: str
    # How far it reaches: `all`, `its_chains`, `its_chains_and_terminal`,
    # `his_own_assignments`, `its_terminal`, `links_to_its_party`, `all_parties`,
    # `its_party`, `decided_in_handler`; null when the route scopes what it shows itself.
    reach: str | None


class RoleReport(BaseModel):
    """One role of the party (a person role, or `api_client`) and what it may do."""

    role: str
    # People holding the role (for `api_client`: keys it authenticates with), and suspended.
    active: int
    suspended: int
    rights: list[RightView]
    custodial_signing: CustodialSigningView
    sees_party_people: bool


class LookupView(BaseModel):
    """Reads of a period: shown, refused (not found, not allowed), distinct containers."""

    reads: int = 0
    refused: int = 0
    containers: int = 0
    first_at: datetime | None = None
    last_at: datetime | None = None


class PersonReport(IdentityPerson):
    """One person of the party and what he looked up in the period."""

    lookups: LookupView


class ActorLookups(BaseModel):
    """Reads of the period by an actor who is not one of the listed people (the party's
    API client, `client:<party id>`)."""

    actor: str
    person_id: uuid.UUID | None
    lookups: LookupView


class ExposureReport(BaseModel):
    """A party's exposure: its roles' rights, its people's look-ups, its keys and clients."""

    party_id: str
    name: str
    party_roles: list[str]
    status: str
    since: datetime
    until: datetime
    roles: list[RoleReport]
    people: list[PersonReport]
    other_lookups: list[ActorLookups]
    keys: list[KeyView]
    api_clients: list[ApiClientView]
