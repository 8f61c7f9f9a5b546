"""What the identity half of the exposure report answers (`GET /v1/parties/{id}/exposure`).

A contract: the release service reads it (`services.release.exposure`) to build the whole
report, and the web front end shows it (docs/exposure.md).
"""

import uuid
from datetime import date, datetime

from pydantic import BaseModel

from services.identity.exposure.service import (
    CustodialSigning,
    KeyExposure,
    PartyExposure,
    PersonExposure,
    RoleExposure,
)


class CustodialSigningView(BaseModel):
    """What the service signs with the party's custodial key for a person of this role."""

    link_kinds: list[str]
    accepts: bool

    @classmethod
    def of(cls, signing: CustodialSigning) -> "CustodialSigningView":
        """The view of a role's custodial signing rights."""
        return cls(link_kinds=list(signing.link_kinds), accepts=signing.accepts)


class RoleExposureView(BaseModel):
    """One person role of the party."""

    role: str
    active: int
    suspended: int
    custodial_signing: CustodialSigningView
    sees_party_people: bool

    @classmethod
    def of(cls, role: RoleExposure) -> "RoleExposureView":
        """The view of a role."""
        return cls(
            role=role.role,
            active=role.active,
            suspended=role.suspended,
            custodial_signing=CustodialSigningView.of(role.custodial_signing),
            sees_party_people=role.sees_party_people,
        )


class PersonExposureView(BaseModel):
    """One person of the party: his role, standing, device keys and custodial signing."""

    person_id: uuid.UUID
    name: str
    role: str
    status: str
    screened_until: date | None
    active_device_keys: int
    custodial_signing: bool

    @classmethod
    def of(cls, row: PersonExposure) -> "PersonExposureView":
        """The view of a person."""
        return cls(
            person_id=row.person.id,
            name=row.person.name,
            role=row.person.role,
            status=row.person.status,
            screened_until=row.person.screened_until,
            active_device_keys=row.active_device_keys,
            custodial_signing=row.custodial_signing,
        )


class KeyExposureView(BaseModel):
    """One key of the party: `kind` own | custodial | device; `certified`: it holds a
    credential that counts now (only then does it sign or authenticate)."""

    kid: str
    kind: str
    status: str
    person_id: uuid.UUID | None
    certified: bool
    created_at: datetime
    retired_at: datetime | None

    @classmethod
    def of(cls, row: KeyExposure) -> "KeyExposureView":
        """The view of a key."""
        return cls(
            kid=row.key.kid,
            kind=row.kind,
            status=row.key.status,
            person_id=row.key.person_id,
            certified=row.certified,
            created_at=row.key.created_at,
            retired_at=row.key.retired_at,
        )


class ApiClientView(BaseModel):
    """A key a system can obtain the party's API-client token with, and what it may ask."""

    kid: str
    scopes: list[str]


class PartyExposureView(BaseModel):
    """The identity half of a party's exposure report."""

    party_id: str
    name: str
    party_roles: list[str]
    status: str
    client_scopes: list[str]
    roles: list[RoleExposureView]
    people: list[PersonExposureView]
    keys: list[KeyExposureView]
    api_clients: list[ApiClientView]

    @classmethod
    def of(cls, exposure: PartyExposure) -> "PartyExposureView":
        """The view of a party's exposure."""
        party = exposure.party
        return cls(
            party_id=party.id,
            name=party.name,
            party_roles=sorted(party.roles),
            status=party.status,
            client_scopes=list(exposure.client_scopes),
            roles=[RoleExposureView.of(role) for role in exposure.roles],
            people=[PersonExposureView.of(person) for person in exposure.people],
            keys=[KeyExposureView.of(key) for key in exposure.keys],
            api_clients=[
                ApiClientView(kid=key.key.kid, scopes=list(exposure.client_scopes))
                for key in exposure.api_client_keys
            ],
        )
