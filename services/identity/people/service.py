"""People: registration, who may see one, suspension and the screening date."""

import re
import uuid
from dataclasses import dataclass
from datetime import date, datetime

import structlog
from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from services.identity.auth import may_see_people_of
from services.identity.credentials import service as credentials
from services.identity.credentials.models import CredentialStatus
from services.identity.credentials.statuslist import status_list_uri
from services.identity.keys import repository as keys
from services.identity.parties import repository as parties
from services.identity.parties.models import PartyStatus
from services.identity.parties.service import party_not_found
from services.identity.people import repository
from services.identity.people.models import (
    SCREENED_ROLES,
    Person,
    PersonRole,
    PersonStatus,
    PersonSuspension,
    SuspensionReason,
)
from services.identity.people.passwords import MIN_PASSWORD_LENGTH, hash_password
from services.identity.screening import service as screening
from services.identity.screening.hashing import IdentityDocument, ScreeningKeys
from shared.audit.events import append
from shared.auth import Principal, StatusReference
from shared.problems import Conflict, Forbidden, InvalidInput, NotFound

logger = structlog.get_logger(__name__)

# Lower case only: "J.Jansen" and "j.jansen" must not be two people, and rather than
# folding case silently (the sign-in looks usernames up as typed) mixed case is refused.
USERNAME_PATTERN = r"^[a-z0-9][a-z0-9._@-]{2,99}$"
_USERNAME = re.compile(USERNAME_PATTERN)
# Bounds the argon2 work one request can cause; long passphrases still fit.
MAX_PASSWORD_LENGTH = 256


def person_not_found() -> NotFound:
    """The one answer for a person who does not exist or whom the caller may not see."""
    return NotFound("person_not_found", "no such person")


def _username_taken() -> Conflict:
    return Conflict("username_taken", "this username is already in use")


def needs_screening(role: str) -> bool:
    """Whether a person of this role works only while screened (docs/screening.md)."""
    return role in SCREENED_ROLES


def screening_lapsed(person: Person, today: date) -> bool:
    """Whether the person's role needs a screening and his runs out before `today` (UTC) or
    was never recorded: the one rule of sign-in, the gate pass and the driver list."""
    if not needs_screening(person.role):
        return False
    return person.screened_until is None or person.screened_until < today


def identity_document(
    document_number: str | None, date_of_birth: date | None, *, today: date
) -> IdentityDocument | None:
    """The normalised document from what was sent (both or neither), or 422."""
    if document_number is None and date_of_birth is None:
        return None
    if document_number is None or date_of_birth is None:
        raise InvalidInput(
            "identity_document_incomplete",
            "document_number and date_of_birth are given together",
        )
    return IdentityDocument.of(document_number, date_of_birth, today=today)


async def create_person(
    session: AsyncSession,
    *,
    party_id: str,
    role: str,
    name: str,
    username: str,
    password: str,
    screened_until: date | None,
    actor: str,
    now: datetime,
    document_number: str | None = None,
    date_of_birth: date | None = None,
    screening_keys: ScreeningKeys | None = None,
) -> Person:
    """Register an active person of an active party, with an argon2id password hash; a
    person of a screened role with his identity document, which is kept only as keyed
    hashes and screened against the people suspended for integrity (never refused for a
    match: port security is told, not the registering party)."""
    try:
        person_role = PersonRole(role)
    except ValueError as exc:
        raise InvalidInput("unknown_role", f"unknown person role {role!r}") from exc
    name = name.strip()
    if not name:
        raise InvalidInput("name_required", "a person has a name")
    if _USERNAME.fullmatch(username) is None:
        raise InvalidInput(
            "invalid_username", "3-100 characters a-z, 0-9, '.', '_', '@', '-', lower case"
        )
    if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        raise InvalidInput(
            "password_length",
            f"a password has {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters",
        )
    document = identity_document(document_number, date_of_birth, today=now.date())
    if document is None and needs_screening(person_role):
        raise InvalidInput(
            "identity_document_required",
            f"a {person_role} is registered with document_number and date_of_birth",
        )
    if document is not None and screening_keys is None:
        raise ValueError("a document is hashed with the screening keys: pass them")
    party = await parties.get(session, party_id)
    if party is None:
        # The party is named in the body, not the path: the request is invalid, not lost.
        raise InvalidInput("unknown_party", "no such party")
    if party.status != PartyStatus.active:
        raise Conflict("party_not_active", "people are registered only for active parties")
    if await repository.username_taken(session, username):
        raise _username_taken()
    person = Person(
        id=uuid.uuid4(),
        party_id=party.id,
        role=person_role,
        name=name,
        username=username,
        password_hash=await hash_password(password),
        screened_until=screened_until,
        status=PersonStatus.active,
        identity_document_recorded_at=now if document is not None else None,
        created_at=now,
        updated_at=now,
    )
    session.add(person)
    try:
        await session.flush()  # a concurrent registration of the username is answered now
    except IntegrityError as exc:
        raise _username_taken() from exc
    await append(
        session,
        "person.created",
        {
            "person_id": str(person.id),
            "party_id": party.id,
            "role": str(person_role),
            "username": username,
            "screened_until": screened_until.isoformat() if screened_until else None,
            # That a document was recorded, never the document or its hash.
            "identity_document_recorded": document is not None,
            "actor": actor,
        },
    )
    if document is not None and screening_keys is not None:
        await screening.record_document(
            session,
            person=person,
            document=document,
            keys=screening_keys,
            trigger="registration",
            actor=actor,
            now=now,
        )
    return person


async def record_identity_document(
    session: AsyncSession,
    *,
    person_id: uuid.UUID,
    document_number: str,
    date_of_birth: date,
    screening_keys: ScreeningKeys,
    actor: str,
    now: datetime,
) -> Person:
    """Record one more identity document of a person (kept beside those on record),
    hashed under the current keys, and screen it: for people registered before, for
    another document he holds, and to re-key after a key change."""
    document = identity_document(document_number, date_of_birth, today=now.date())
    if document is None:  # both were given: the caller's types say so
        raise InvalidInput("identity_document_incomplete", "send the document and the date")
    person = await _locked(session, person_id)
    person.identity_document_recorded_at = now
    person.updated_at = now
    session.add(person)
    await append(
        session,
        "person.identity_document_recorded",
        {"person_id": str(person.id), "party_id": person.party_id, "actor": actor},
    )
    await screening.record_document(
        session,
        person=person,
        document=document,
        keys=screening_keys,
        trigger="document_recorded",
        actor=actor,
        now=now,
    )
    return person


async def get_visible_person(
    session: AsyncSession, *, person_id: uuid.UUID, principal: Principal
) -> Person:
    """A person the caller may see, or 404: an admin sees all; the party's API client, its
    dispatchers and its administrators see its people (to assign and manage them); anyone
    else (a driver, an operator, an officer) sees only himself."""
    person = await repository.get(session, person_id)
    if person is None or not may_see(principal, person):
        raise person_not_found()
    return person


def may_see(principal: Principal, person: Person) -> bool:
    """Whether the caller may see this person (need-to-know inside a party, too)."""
    return principal.person_id == person.id or may_see_people_of(principal, person.party_id)


@dataclass(frozen=True)
class AssignableDriver:
    """A driver his party's dispatcher may assign now, and whether his phone holds a key."""

    person_id: uuid.UUID
    name: str
    screened_until: date
    has_device_key: bool


async def assignable_drivers(
    session: AsyncSession, *, party_id: str, principal: Principal, today: date
) -> list[AssignableDriver]:
    """The party's active drivers screened at least through `today`, by name: for the
    party's dispatchers, administrators and API client and the port's administrators.

    A caller of another party gets the 404 of an unknown party, so the list does not even
    confirm that the party has people; the party's own drivers and operators get 403.
    """
    if not may_see_people_of(principal, party_id):
        logger.warning(
            "drivers_list_refused",
            actor=principal.actor,
            party_id=party_id,
            caller=principal.party_id,
        )
        if principal.party_id != party_id:
            raise party_not_found()
        raise Forbidden(
            "driver_list_not_allowed", "the party's drivers are listed for its dispatchers"
        )
    if await parties.get(session, party_id) is None:
        raise party_not_found()
    drivers = await repository.screened_drivers(session, party_id, on=today)
    holders = await keys.people_with_active_device_keys(session, party_id) if drivers else set()
    # Identity records no reads in a table (only changes, in the public audit log): the
    # structured log line is where this read is kept (docs/identity.md).
    logger.info(
        "drivers_listed",
        actor=principal.actor,
        caller=principal.party_id,
        party_id=party_id,
        results=len(drivers),
    )
    return [
        AssignableDriver(
            person_id=d.id,
            name=d.name,
            screened_until=d.screened_until,
            has_device_key=d.id in holders,
        )
        for d in drivers
        if d.screened_until is not None  # the query has left out the unscreened
    ]


async def get_person(session: AsyncSession, *, person_id: uuid.UUID) -> Person:
    """A person by id, or 404 (for public directory look-ups: no rights are judged)."""
    person = await repository.get(session, person_id)
    if person is None:
        raise person_not_found()
    return person


async def _locked(session: AsyncSession, person_id: uuid.UUID) -> Person:
    person = await repository.lock(session, person_id)
    if person is None:
        raise person_not_found()
    return person


async def _set_status(
    session: AsyncSession,
    person: Person,
    *,
    status: PersonStatus,
    event: str,
    actor: str,
    now: datetime,
    facts: dict[str, object] | None = None,
) -> Person:
    person.status = status
    person.updated_at = now
    session.add(person)
    party = await parties.get(session, person.party_id)
    if party is None:  # a foreign key forbids it: the database is not as the schema says
        raise RuntimeError(f"person {person.id} belongs to party {person.party_id}, which is gone")
    await credentials.set_person_status(
        session,
        person_id=person.id,
        suspended=status != PersonStatus.active,
        party_status=party.status,
        now=now,
    )
    if person.status_list_id is not None and person.status_index is not None:
        await credentials.set_status_entry(
            session,
            list_id=person.status_list_id,
            index=person.status_index,
            value=_entry_for(status),
            now=now,
        )
    await append(
        session,
        f"person.{event}",
        {
            "person_id": str(person.id),
            "party_id": person.party_id,
            "status_list_id": person.status_list_id,
            "idx": person.status_index,
            "actor": actor,
            **(facts or {}),
        },
    )
    return person


def _entry_for(status: PersonStatus | str) -> CredentialStatus:
    return CredentialStatus.valid if status == PersonStatus.active else CredentialStatus.suspended


async def status_reference(
    session: AsyncSession, *, person: Person, issuer: str, now: datetime
) -> StatusReference:
    """The person's entry in a published status list, taken now if he has none yet (`now`,
    the request's time, stamps the list when his first entry is written)."""
    if person.status_list_id is None or person.status_index is None:
        person = await _locked(session, person.id)  # two first sign-ins take one entry
    if person.status_list_id is None or person.status_index is None:
        person.status_list_id, person.status_index = await credentials.allocate_status_entry(
            session
        )
        await credentials.set_status_entry(
            session,
            list_id=person.status_list_id,
            index=person.status_index,
            value=_entry_for(person.status),
            now=now,
        )
        session.add(person)
    return StatusReference(
        uri=status_list_uri(issuer, person.status_list_id), idx=person.status_index
    )


async def suspend_person(
    session: AsyncSession,
    *,
    person_id: uuid.UUID,
    actor: str,
    now: datetime,
    reason: SuspensionReason = SuspensionReason.other,
) -> Person:
    """Suspend a person, with a reason: he can neither sign in nor get a gate pass until
    reinstated. An `integrity` suspension screens his document across employers; a person
    suspended for another reason (pending an inquiry) can be suspended again for integrity."""
    person = await _locked(session, person_id)
    if person.status == PersonStatus.suspended:
        if reason == SuspensionReason.integrity != person.suspension_reason:
            return await _raise_to_integrity(session, person, actor=actor, now=now)
        raise Conflict("person_already_suspended", "the person is already suspended")
    person.suspension_reason = reason
    session.add(
        PersonSuspension(
            person_id=person.id,
            party_id=person.party_id,
            reason=reason,
            suspended_at=now,
            suspended_by=actor,
        )
    )
    return await _set_status(
        session,
        person,
        status=PersonStatus.suspended,
        event="suspended",
        actor=actor,
        now=now,
        facts={"reason": str(reason)},
    )


async def _raise_to_integrity(
    session: AsyncSession, person: Person, *, actor: str, now: datetime
) -> Person:
    previous = person.suspension_reason
    person.suspension_reason = SuspensionReason.integrity
    person.updated_at = now
    session.add(person)
    current = await repository.open_suspension(session, person.id)
    if current is None:  # suspended before suspensions were recorded with their reason
        current = PersonSuspension(
            person_id=person.id,
            party_id=person.party_id,
            reason=SuspensionReason.integrity,
            suspended_at=now,
            suspended_by=actor,
        )
    current.reason = SuspensionReason.integrity
    session.add(current)
    await append(
        session,
        "person.suspended",
        {
            "person_id": str(person.id),
            "party_id": person.party_id,
            "status_list_id": person.status_list_id,
            "idx": person.status_index,
            "actor": actor,
            "reason": str(SuspensionReason.integrity),
            "previous_reason": previous,
        },
    )
    return person


async def reinstate_person(
    session: AsyncSession, *, person_id: uuid.UUID, actor: str, now: datetime
) -> Person:
    """Lift a person's suspension (whatever its reason; the history keeps it)."""
    person = await _locked(session, person_id)
    if person.status != PersonStatus.suspended:
        raise Conflict("person_not_suspended", "only a suspended person can be reinstated")
    person.suspension_reason = None
    current = await repository.open_suspension(session, person.id)
    if current is not None:
        current.reinstated_at = now
        session.add(current)
    return await _set_status(
        session, person, status=PersonStatus.active, event="reinstated", actor=actor, now=now
    )


async def set_screened_until(
    session: AsyncSession,
    *,
    person_id: uuid.UUID,
    screened_until: date | None,
    actor: str,
    now: datetime,
) -> Person:
    """Record the end of a person's screening (certificate of conduct); None: not screened."""
    person = await _locked(session, person_id)
    previous = person.screened_until
    person.screened_until = screened_until
    person.updated_at = now
    session.add(person)
    await append(
        session,
        "person.screening_changed",
        {
            "person_id": str(person.id),
            "party_id": person.party_id,
            "from": previous.isoformat() if previous else None,
            "to": screened_until.isoformat() if screened_until else None,
            "actor": actor,
        },
    )
    return person
