"""Credentials and their status entries: issue, suspend, reinstate, revoke, follow the party.

The status list entry is what a verifier sees, so it is derived from the facts in one
place (`_entry`): INVALID is final; otherwise an entry is SUSPENDED while the credential
itself is suspended (by an administrator) or its party is not active, and VALID
otherwise. The credential's own suspension is kept apart from the party's, so lifting a
party's suspension does not lift an administrator's suspension of one credential.

Locks are always taken in one order — party, credential, status list — so concurrent
issuance, party status changes and credential status changes never deadlock.
"""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from joserfc.jwk import OKPKey
from sqlmodel.ext.asyncio.session import AsyncSession

from services.identity.credentials import repository
from services.identity.credentials.models import Credential, CredentialStatus, StatusList
from services.identity.credentials.statuslist import (
    LIST_SIZE,
    sign_status_list,
    status_list_uri,
)
from services.identity.keys.models import KeyStatus, PartyKey
from services.identity.parties import repository as parties
from services.identity.parties.models import PartyStatus
from services.identity.settings import IdentitySettings
from shared import jose
from shared.audit.events import append
from shared.credentials import CREDENTIAL_TYP
from shared.problems import Conflict, InvalidInput, NotFound


@dataclass(frozen=True)
class CredentialRecord:
    """A credential with the status its list entry shows now."""

    credential: Credential
    status: CredentialStatus
    uri: str


def credential_not_found() -> NotFound:
    """The one answer for a credential that does not exist or that the caller may not see."""
    return NotFound("credential_not_found", "no such credential")


def _entry(current: int, *, suspended: bool, party_status: str) -> CredentialStatus:
    if current == CredentialStatus.invalid or party_status == PartyStatus.revoked:
        return CredentialStatus.invalid
    if suspended or party_status != PartyStatus.active:
        return CredentialStatus.suspended
    return CredentialStatus.valid


def _status_name(value: int) -> str:
    try:
        return CredentialStatus(value).name
    except ValueError:
        return f"0x{value:02x}"


def _set_entry(
    status_list: StatusList, index: int, value: CredentialStatus, *, now: datetime
) -> int:
    """Write one entry of a locked list, stamping the list with `now` if it changed;
    returns the value it had."""
    old = status_list.statuses[index]
    if old != value:
        statuses = bytearray(status_list.statuses)
        statuses[index] = value
        status_list.statuses = bytes(statuses)
        status_list.updated_at = now
    return old


# --- issuing --------------------------------------------------------------------------------


async def _allocate_index(session: AsyncSession, *, list_size: int) -> tuple[int, int]:
    """A status list entry no other credential has: (list id, index)."""
    claimed = await repository.claim_index(session)
    if claimed is not None:
        return claimed
    # Every list is full (or none exists): open a new one and take its first entry.
    # Two transactions doing this at once each open their own list, which is harmless.
    status_list = await repository.create_status_list(session, size=list_size, taken=1)
    if status_list.id is None:  # flushed: the database assigns the id on insert
        raise RuntimeError("the database assigned no id to a new status list")
    return status_list.id, 0


async def allocate_status_entry(
    session: AsyncSession, *, list_size: int = LIST_SIZE
) -> tuple[int, int]:
    """A status list entry of its own, VALID, for a subject that is not a credential (a
    person's tokens): (list id, index). Credentials and people share the lists."""
    return await _allocate_index(session, list_size=list_size)


async def set_status_entry(
    session: AsyncSession, *, list_id: int, index: int, value: CredentialStatus, now: datetime
) -> int:
    """Write one entry of a status list under its row lock; returns the value it had."""
    status_list = (await repository.lock_status_lists(session, [list_id]))[list_id]
    old = _set_entry(status_list, index, value, now=now)
    session.add(status_list)
    return old


def _check_roles(requested: Sequence[str] | None, held: Sequence[str]) -> list[str]:
    roles = [str(role) for role in dict.fromkeys(held if requested is None else requested)]
    if not roles:
        raise InvalidInput("roles_empty", "a credential needs at least one role")
    missing = sorted(set(roles) - set(held))
    if missing:
        raise InvalidInput("roles_not_held", f"the party does not hold the roles {missing}")
    return roles


def credential_claims(
    *,
    issuer: str,
    party_id: str,
    roles: Sequence[str],
    holder_key: OKPKey,
    issued: int,
    expires: int,
    credential_id: uuid.UUID,
    idx: int,
    uri: str,
    subject: str | None = None,
) -> dict[str, Any]:
    """The claims of a `ketenpas-credential+jwt` (docs/design.md, Wire formats); a device
    credential's subject is the person, and it names his party in `party`."""
    claims: dict[str, Any] = {
        "iss": issuer,
        "sub": subject or party_id,
        "roles": list(roles),
        # RFC 7800: the key the party proves possession of, named by its thumbprint.
        "cnf": {"jwk": {**jose.public_jwk(holder_key), "kid": jose.thumbprint(holder_key)}},
        "iat": issued,
        "nbf": issued,
        "exp": expires,
        "jti": str(credential_id),
        "status": {"status_list": {"idx": idx, "uri": uri}},
    }
    if subject is not None:
        claims["party"] = party_id
    return claims


async def issue_credential(
    session: AsyncSession,
    *,
    party_id: str,
    kid: str,
    roles: Sequence[str] | None,
    settings: IdentitySettings,
    signing_key: OKPKey,
    actor: str,
    now: datetime,
    list_size: int = LIST_SIZE,
) -> CredentialRecord:
    """Issue a credential binding an active party to one of its active keys and roles."""
    party = await parties.lock(session, party_id)
    if party is None:
        raise NotFound("party_not_found", "no such party")
    if party.status != PartyStatus.active:
        raise Conflict("party_not_active", f"the party is {party.status}")
    key = await repository.get_party_key(session, kid)
    if key is None:
        raise InvalidInput("key_not_found", "no key with this kid is registered")
    if key.party_id != party.id:
        raise InvalidInput("key_of_other_party", "the key belongs to another party")
    if key.person_id is not None:
        # A device key speaks for one person, never for the party.
        raise InvalidInput("key_is_device_key", "a person's device key gets no party credential")
    if key.status != KeyStatus.active:
        raise Conflict("key_not_active", "the key is retired")
    checked_roles = _check_roles(roles, party.roles)
    return await _issue(
        session,
        party_id=party.id,
        subject=None,
        key=key,
        roles=checked_roles,
        settings=settings,
        signing_key=signing_key,
        actor=actor,
        now=now,
        list_size=list_size,
    )


async def issue_device_credential(
    session: AsyncSession,
    *,
    person_id: uuid.UUID,
    kid: str,
    role: str,
    settings: IdentitySettings,
    signing_key: OKPKey,
    actor: str,
    now: datetime,
    list_size: int = LIST_SIZE,
) -> CredentialRecord:
    """Issue a device credential: this person (`sub`) of his active party holds this key."""
    key = await repository.get_party_key(session, kid)
    if key is None or key.person_id != person_id:
        raise InvalidInput("key_not_found", "no device key with this kid is registered")
    party = await parties.lock(session, key.party_id)
    if party is None or party.status != PartyStatus.active:
        raise Conflict("party_not_active", "the person's party is not active")
    if key.status != KeyStatus.active:
        raise Conflict("key_not_active", "the key is retired")
    return await _issue(
        session,
        party_id=party.id,
        subject=str(person_id),
        key=key,
        roles=[role],
        settings=settings,
        signing_key=signing_key,
        actor=actor,
        now=now,
        list_size=list_size,
    )


async def _issue(
    session: AsyncSession,
    *,
    party_id: str,
    subject: str | None,
    key: PartyKey,
    roles: list[str],
    settings: IdentitySettings,
    signing_key: OKPKey,
    actor: str,
    now: datetime,
    list_size: int,
) -> CredentialRecord:
    checked_roles = list(roles)
    list_id, index = await _allocate_index(session, list_size=list_size)
    uri = status_list_uri(settings.issuer, list_id)
    issued = int(now.timestamp())
    expires = issued + int(timedelta(days=settings.credential_lifetime_days).total_seconds())
    credential_id = uuid.uuid4()
    claims = credential_claims(
        issuer=settings.issuer,
        party_id=party_id,
        subject=subject,
        roles=checked_roles,
        holder_key=jose.import_key(key.public_jwk),
        issued=issued,
        expires=expires,
        credential_id=credential_id,
        idx=index,
        uri=uri,
    )
    credential = Credential(
        id=credential_id,
        subject=subject or party_id,
        party_id=party_id,
        kid=key.kid,
        roles=checked_roles,
        issued_at=datetime.fromtimestamp(issued, UTC),
        not_before=datetime.fromtimestamp(issued, UTC),
        expires_at=datetime.fromtimestamp(expires, UTC),
        status_list_id=list_id,
        status_index=index,
        token=jose.sign(claims, signing_key, typ=CREDENTIAL_TYP),
    )
    session.add(credential)
    await append(
        session,
        "credential.issued",
        {
            "credential_id": str(credential_id),
            "party_id": party_id,
            "subject": subject or party_id,
            "kid": key.kid,
            "roles": checked_roles,
            "status_list_id": list_id,
            "idx": index,
            "expires_at": credential.expires_at.isoformat(),
            "actor": actor,
        },
    )
    return CredentialRecord(credential=credential, status=CredentialStatus.valid, uri=uri)


# --- reading ----------------------------------------------------------------------------------


async def get_credential(
    session: AsyncSession, *, credential_id: uuid.UUID, settings: IdentitySettings
) -> CredentialRecord:
    """A credential and its current status, or 404."""
    credential = await repository.get_credential(session, credential_id)
    if credential is None:
        raise credential_not_found()
    return (await _with_status(session, [credential], settings))[0]


async def list_party_credentials(
    session: AsyncSession, *, party_id: str, settings: IdentitySettings
) -> list[CredentialRecord]:
    """Every credential of a party with its current status, newest first."""
    credentials = await repository.list_party_credentials(session, party_id)
    return await _with_status(session, credentials, settings)


#: The most credentials the public directory lists for one party: a party holds a handful
#: (one per key and rotation), so the bound only caps what one request can cost.
DIRECTORY_LIMIT = 200


async def published_credentials(session: AsyncSession, *, party_id: str) -> list[str]:
    """The party's own credentials as compact JWS, newest first, whatever their status."""
    # The status list says whether each still counts; device credentials (whose subject
    # is a person) stay out of a public listing.
    return list(await repository.published_tokens(session, party_id, limit=DIRECTORY_LIMIT))


async def published_person_credentials(session: AsyncSession, *, person_id: uuid.UUID) -> list[str]:
    """A person's device credentials as compact JWS, newest first, whatever their status."""
    return list(await repository.subject_tokens(session, str(person_id), limit=DIRECTORY_LIMIT))


async def certified(
    session: AsyncSession, *, kid: str, subject: str, now: datetime, leeway: float = 0
) -> bool:
    """Whether the key holds a credential for `subject` that counts now: issued, unexpired,
    and VALID in its status list (neither revoked nor suspended, nor its party)."""
    for credential in await repository.credentials_of_key(session, kid):
        if credential.subject != subject or credential.suspended:
            continue
        skew = timedelta(seconds=leeway)
        if not credential.not_before - skew <= now < credential.expires_at:
            continue
        status_list = await _status_list_of(session, credential)
        if status_list.statuses[credential.status_index] == CredentialStatus.valid:
            return True
    return False


async def _status_list_of(session: AsyncSession, credential: Credential) -> StatusList:
    """The status list a credential's status is kept in."""
    status_list = await repository.get_status_list(session, credential.status_list_id)
    if status_list is None:  # a foreign key forbids it: the database is not as the schema says
        raise RuntimeError(
            f"credential {credential.id} names status list {credential.status_list_id},"
            " which does not exist"
        )
    return status_list


async def _with_status(
    session: AsyncSession, credentials: Sequence[Credential], settings: IdentitySettings
) -> list[CredentialRecord]:
    lists: dict[int, StatusList] = {}
    records = []
    for credential in credentials:
        list_id = credential.status_list_id
        if list_id not in lists:
            lists[list_id] = await _status_list_of(session, credential)
        value = lists[list_id].statuses[credential.status_index]
        records.append(
            CredentialRecord(
                credential=credential,
                status=CredentialStatus(value),
                uri=status_list_uri(settings.issuer, list_id),
            )
        )
    return records


# --- status changes ---------------------------------------------------------------------------


async def _change(
    session: AsyncSession,
    *,
    credential_id: uuid.UUID,
    settings: IdentitySettings,
    action: str,
    actor: str,
    now: datetime,
) -> CredentialRecord:
    found = await repository.get_credential(session, credential_id)
    if found is None:
        raise credential_not_found()
    party = await parties.lock(session, found.party_id)
    credential = await repository.lock_credential(session, credential_id)
    if credential is None:  # credentials are never deleted; all the same, it is not there
        raise credential_not_found()
    if party is None:  # a foreign key forbids it: the database is not as the schema says
        raise RuntimeError(
            f"credential {credential_id} belongs to party {found.party_id}, which is gone"
        )
    status_list = (await repository.lock_status_lists(session, [credential.status_list_id]))[
        credential.status_list_id
    ]
    current = status_list.statuses[credential.status_index]
    if current == CredentialStatus.invalid:
        raise Conflict("credential_revoked", "the credential is revoked, and revocation is final")
    person_suspended = bool(await repository.suspended_people(session, [credential.subject]))

    if action == "suspended":
        if credential.suspended:
            raise Conflict("credential_already_suspended", "the credential is already suspended")
        credential.suspended = True
    elif action == "reinstated":
        if not credential.suspended:
            raise Conflict(
                "credential_not_suspended",
                "only a credential suspended on its own can be reinstated"
                " (a party's suspension is lifted by reinstating the party)",
            )
        if party.status != PartyStatus.active:
            raise Conflict("party_not_active", f"the credential's party is {party.status}")
        credential.suspended = False
    new = (
        CredentialStatus.invalid
        if action == "revoked"
        else _entry(
            current, suspended=credential.suspended or person_suspended, party_status=party.status
        )
    )
    _set_entry(status_list, credential.status_index, new, now=now)
    session.add(credential)
    session.add(status_list)
    await append(
        session,
        f"credential.{action}",
        {
            "credential_id": str(credential.id),
            "party_id": credential.party_id,
            "status_list_id": credential.status_list_id,
            "idx": credential.status_index,
            "from": _status_name(current),
            "to": new.name,
            "actor": actor,
        },
    )
    return CredentialRecord(
        credential=credential,
        status=new,
        uri=status_list_uri(settings.issuer, credential.status_list_id),
    )


async def suspend_key_credentials(
    session: AsyncSession, *, kid: str, settings: IdentitySettings, actor: str, now: datetime
) -> int:
    """Suspend every credential of a key that is not already suspended or revoked (the key
    was retired: what it signs from now on must not verify); how many were suspended."""
    # The caller holds the party's row lock (retiring locks it): the lock order stays
    # party, credential, status list.
    changed = 0
    for credential in await repository.credentials_of_key(session, kid):
        if credential.suspended:
            continue
        try:
            await _change(
                session,
                credential_id=credential.id,
                settings=settings,
                action="suspended",
                actor=actor,
                now=now,
            )
        except Conflict as exc:
            if exc.code != "credential_revoked":
                raise
            continue
        changed += 1
    return changed


async def suspend_credential(
    session: AsyncSession,
    *,
    credential_id: uuid.UUID,
    settings: IdentitySettings,
    actor: str,
    now: datetime,
) -> CredentialRecord:
    """Suspend one credential until an administrator reinstates it."""
    return await _change(
        session,
        credential_id=credential_id,
        settings=settings,
        action="suspended",
        actor=actor,
        now=now,
    )


async def reinstate_credential(
    session: AsyncSession,
    *,
    credential_id: uuid.UUID,
    settings: IdentitySettings,
    actor: str,
    now: datetime,
) -> CredentialRecord:
    """Lift an administrator's suspension of one credential (its party must be active)."""
    return await _change(
        session,
        credential_id=credential_id,
        settings=settings,
        action="reinstated",
        actor=actor,
        now=now,
    )


async def revoke_credential(
    session: AsyncSession,
    *,
    credential_id: uuid.UUID,
    settings: IdentitySettings,
    actor: str,
    now: datetime,
) -> CredentialRecord:
    """Revoke one credential for good."""
    return await _change(
        session,
        credential_id=credential_id,
        settings=settings,
        action="revoked",
        actor=actor,
        now=now,
    )


async def set_party_status(
    session: AsyncSession, *, party_id: str, status: PartyStatus, now: datetime
) -> int:
    """Make the status entries of a party's credentials follow its new status; how many changed."""
    # The party row lock orders this against issuance for the same party.
    await repository.lock_party_row(session, party_id)
    credentials = await repository.lock_party_credentials(session, party_id)
    lists = await repository.lock_status_lists(session, (c.status_list_id for c in credentials))
    # A device credential of a suspended person stays suspended when his party is reinstated.
    suspended = await repository.suspended_people(session, (c.subject for c in credentials))
    changed = 0
    for credential in credentials:
        status_list = lists[credential.status_list_id]
        current = status_list.statuses[credential.status_index]
        on_hold = credential.suspended or credential.subject in suspended
        new = _entry(current, suspended=on_hold, party_status=status)
        if new == current:
            continue
        _set_entry(status_list, credential.status_index, new, now=now)
        session.add(status_list)
        changed += 1
        await append(
            session,
            "credential.status_changed",
            {
                "credential_id": str(credential.id),
                "party_id": party_id,
                "status_list_id": credential.status_list_id,
                "idx": credential.status_index,
                "from": _status_name(current),
                "to": new.name,
                # The party's own event in the same transaction names who did it.
                "cause": f"party.{status}",
            },
        )
    return changed


async def set_person_status(
    session: AsyncSession,
    *,
    person_id: uuid.UUID,
    suspended: bool,
    party_status: str,
    now: datetime,
) -> int:
    """Make a person's device credentials follow his suspension; how many entries changed.

    A suspended driver's device key then fails every chain it signed, so the gate, which
    verifies the chain again at the gate-out, stops him even after a `release` decision.
    """
    credentials = await repository.lock_subject_credentials(session, str(person_id))
    lists = await repository.lock_status_lists(session, (c.status_list_id for c in credentials))
    changed = 0
    for credential in credentials:
        status_list = lists[credential.status_list_id]
        current = status_list.statuses[credential.status_index]
        new = _entry(
            current, suspended=credential.suspended or suspended, party_status=party_status
        )
        if new == current:
            continue
        _set_entry(status_list, credential.status_index, new, now=now)
        session.add(status_list)
        changed += 1
        await append(
            session,
            "credential.status_changed",
            {
                "credential_id": str(credential.id),
                "party_id": credential.party_id,
                "status_list_id": credential.status_list_id,
                "idx": credential.status_index,
                "from": _status_name(current),
                "to": new.name,
                "cause": "person.suspended" if suspended else "person.reinstated",
            },
        )
    return changed


# --- status list tokens -------------------------------------------------------------------------


async def status_list_token(
    session: AsyncSession,
    *,
    list_id: int,
    settings: IdentitySettings,
    signing_key: OKPKey,
    now: datetime,
) -> str:
    """The signed `statuslist+jwt` of a list as it stands now, or 404."""
    status_list = await repository.get_status_list(session, list_id)
    if status_list is None:
        raise NotFound("status_list_not_found", "no such status list")
    return sign_status_list(
        status_list.statuses,
        issuer=settings.issuer,
        uri=status_list_uri(settings.issuer, list_id),
        now=int(now.timestamp()),
        ttl=settings.status_list_ttl_seconds,
        key=signing_key,
    )
