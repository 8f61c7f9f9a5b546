"""A party's exposure, the identity half: who of the party can do what with its identity.

An employer compartmentalises what it can see: which of its roles sign for the party with
its custodial key, who holds a device key, which keys let a system in as the party's API
client (and with which scopes), and who sees the party's people. Every answer here is
derived by asking the rules that decide it (`keys.service.custodial_claims`,
`auth.may_see_people_of`, `oauth.service.allowed_scopes`) about a stand-in caller of each
role, so the report cannot say something the service does not do.

The report maps a party's staff: it is for port security and for the party's own
administrators only. Anyone of another party gets the 404 of an unknown party; the
party's own other people and its API client get 403 `exposure_not_allowed`. Each read and
each refusal is recorded by the endpoint as an audit event `security.read`
(monitoring/reads.py), which the identity rules watch.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from services.identity.auth import may_see_people_of
from services.identity.credentials import service as credentials
from services.identity.exposure import repository
from services.identity.keys import repository as keys
from services.identity.keys.models import KeyStatus, PartyKey
from services.identity.keys.service import (
    ACK_TYP,
    LINK_KINDS_BY_PARTY_ROLE,
    LINK_TYP,
    custodial_claims,
)
from services.identity.oauth.service import allowed_scopes
from services.identity.parties import repository as parties
from services.identity.parties.models import Party, PartyRole
from services.identity.parties.service import party_not_found
from services.identity.people.models import Person, PersonRole, PersonStatus
from shared.auth import Principal
from shared.problems import Forbidden, Problem

#: The scope port security's API client reads reports under (its officers need no scope),
#: the same one the release service's port-security pages ask for.
PORT_SECURITY_SCOPE = "inspections"
#: Every link kind a party can sign (docs/design.md, Domain).
LINK_KINDS: tuple[str, ...] = tuple(sorted(frozenset().union(*LINK_KINDS_BY_PARTY_ROLE.values())))


def is_port_security(principal: Principal) -> bool:
    """Port security: one of its officers, or its API client holding the `inspections` scope."""
    if PartyRole.port_security not in principal.party_roles:
        return False
    if principal.person_id is not None:
        return principal.person_role == PersonRole.officer
    return PORT_SECURITY_SCOPE in principal.scopes


def may_read_exposure(principal: Principal, party_id: str) -> bool:
    """Port security, or a person with the admin role of the party itself."""
    if is_port_security(principal):
        return True
    return (
        principal.party_id == party_id
        and principal.person_id is not None
        and principal.person_role == PersonRole.admin
    )


def check_may_read_exposure(principal: Principal, party_id: str) -> None:
    """404 `party_not_found` for another party's caller, 403 for the party's own others."""
    if may_read_exposure(principal, party_id):
        return
    if principal.party_id != party_id:
        raise party_not_found()
    raise Forbidden("exposure_not_allowed", "the party's exposure is for its administrators")


@dataclass(frozen=True)
class CustodialSigning:
    """What a role may have the service sign with the party's custodial key."""

    link_kinds: tuple[str, ...]
    accepts: bool

    @property
    def any(self) -> bool:
        """Whether the role signs anything for the party."""
        return bool(self.link_kinds) or self.accepts


@dataclass(frozen=True)
class RoleExposure:
    """One person role of the party: how many hold it, and what it can do with identity."""

    role: str
    active: int
    suspended: int
    custodial_signing: CustodialSigning
    sees_party_people: bool


@dataclass(frozen=True)
class PersonExposure:
    """One person of the party and the keys and signing rights he holds."""

    person: Person
    active_device_keys: int
    custodial_signing: bool


@dataclass(frozen=True)
class KeyExposure:
    """One key of the party and whether it holds a credential that counts now."""

    key: PartyKey
    kind: str  # own | custodial | device
    certified: bool


@dataclass(frozen=True)
class PartyExposure:
    """The identity half of a party's exposure report."""

    party: Party
    client_scopes: tuple[str, ...]
    roles: list[RoleExposure]
    people: list[PersonExposure]
    keys: list[KeyExposure]

    @property
    def api_client_keys(self) -> list[KeyExposure]:
        """The keys a system can obtain the party's API-client token with now."""
        return [
            k
            for k in self.keys
            if k.kind == "own" and k.certified and k.key.status == KeyStatus.active
        ]


def stand_in(party: Party, *, person_role: str | None) -> Principal:
    """A caller of the party in a role (None: its API client), to ask the rules about."""
    if person_role is None:
        return Principal(
            party_id=party.id,
            party_roles=frozenset(party.roles),
            scopes=allowed_scopes(party.roles),
        )
    return Principal(
        party_id=party.id,
        party_roles=frozenset(party.roles),
        person_id=uuid.uuid4(),
        person_role=person_role,
    )


def _signs(principal: Principal, typ: str, claims: dict[str, Any]) -> bool:
    try:
        custodial_claims(principal, typ=typ, claims=claims, now=0)
    except Problem:
        return False
    return True


def custodial_signing(principal: Principal) -> CustodialSigning:
    """What custodial signing would sign for this caller, asked of the signing rule itself."""
    kinds = tuple(
        kind
        for kind in LINK_KINDS
        if _signs(principal, LINK_TYP, {"from": principal.party_id, "kind": kind, "exp": 60})
    )
    return CustodialSigning(link_kinds=kinds, accepts=_signs(principal, ACK_TYP, {"link": "-"}))


def _key_kind(key: PartyKey) -> str:
    if key.person_id is not None:
        return "device"
    return "custodial" if key.custodial else "own"


async def party_exposure(
    session: AsyncSession, *, principal: Principal, party_id: str, now: datetime
) -> PartyExposure:
    """The party's people by role, keys and API clients, for port security or its admins."""
    check_may_read_exposure(principal, party_id)
    party = await parties.get(session, party_id)
    if party is None:
        raise party_not_found()
    people = await repository.people_of(session, party_id)
    party_keys = await keys.of_party(session, party_id)
    roles = []
    signing_by_role: dict[str, CustodialSigning] = {}
    for role in PersonRole:
        principal_of_role = stand_in(party, person_role=role)
        signing_by_role[role] = custodial_signing(principal_of_role)
        holders = [p for p in people if p.role == role]
        roles.append(
            RoleExposure(
                role=role,
                active=sum(1 for p in holders if p.status == PersonStatus.active),
                suspended=sum(1 for p in holders if p.status != PersonStatus.active),
                custodial_signing=signing_by_role[role],
                sees_party_people=may_see_people_of(principal_of_role, party.id),
            )
        )
    key_rows = []
    for key in party_keys:
        subject = str(key.person_id) if key.person_id is not None else party.id
        certified = key.status == KeyStatus.active and await credentials.certified(
            session, kid=key.kid, subject=subject, now=now
        )
        key_rows.append(KeyExposure(key=key, kind=_key_kind(key), certified=certified))
    device_keys: dict[uuid.UUID, int] = {}
    for row in key_rows:
        if row.key.person_id is not None and row.key.status == KeyStatus.active:
            device_keys[row.key.person_id] = device_keys.get(row.key.person_id, 0) + 1
    has_custodial = any(
        k.kind == "custodial" and k.key.status == KeyStatus.active for k in key_rows
    )
    people_rows = [
        PersonExposure(
            person=p,
            active_device_keys=device_keys.get(p.id, 0),
            custodial_signing=has_custodial
            and p.status == PersonStatus.active
            and signing_by_role.get(p.role, CustodialSigning((), False)).any,
        )
        for p in people
    ]
    return PartyExposure(
        party=party,
        client_scopes=tuple(sorted(allowed_scopes(party.roles))),
        roles=roles,
        people=people_rows,
        keys=key_rows,
    )
