"""People over HTTP: administrators register and manage them; a party sees its own."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Path, Response
from pydantic import SecretStr

from services.identity.deps import AdminPrincipal, CurrentPrincipal, SettingsDep, UtcNowDep
from services.identity.people import service
from services.identity.people.models import Person, SuspensionReason
from services.identity.people.schemas import (
    AssignableDriverList,
    AssignableDriverView,
    PersonCreate,
    PersonSuspend,
    PersonUpdate,
    PersonView,
)
from services.identity.screening.hashing import ScreeningKeys
from shared.deps import SessionDep
from shared.problems import PROBLEM, InvalidInput

router = APIRouter(prefix="/v1/people", tags=["people"])
# The people of one party, under the party's path.
party_people_router = APIRouter(prefix="/v1/parties/{party_id}", tags=["people"])

# Longer than any party id: refused as input (422) rather than looked up.
PartyIdPath = Annotated[str, Path(max_length=64)]


async def visible_person(
    person_id: uuid.UUID, principal: CurrentPrincipal, session: SessionDep
) -> Person:
    """The person of the path, if the caller may see him; 404 like an unknown id otherwise."""
    return await service.get_visible_person(session, person_id=person_id, principal=principal)


VisiblePerson = Annotated[Person, Depends(visible_person)]


_DOCUMENT_CODES = (
    "`identity_document_required` (a driver, dispatcher or operator), "
    "`identity_document_incomplete` (one of document_number and date_of_birth), "
    "`invalid_document_number`, `invalid_date_of_birth`"
)


@router.post(
    "",
    status_code=201,
    summary="Register a person (admin)",
    responses={
        409: {**PROBLEM, "description": "`party_not_active`, `username_taken`"},
        422: {**PROBLEM, "description": f"`unknown_party`, {_DOCUMENT_CODES}"},
    },
)
async def create_person(
    body: PersonCreate,
    admin: AdminPrincipal,
    session: SessionDep,
    settings: SettingsDep,
    response: Response,
    now: UtcNowDep,
) -> PersonView:
    """Register a person: 422 `unknown_party`, 409 `party_not_active` or `username_taken`.

    A driver, dispatcher or operator is registered with his identity document
    (`document_number` and `date_of_birth`), kept only as keyed hashes and screened against
    the people suspended for integrity at any party; the answer is the same whatever the
    screening finds (port security is told, docs/screening.md)."""
    person = await service.create_person(
        session,
        party_id=body.party_id,
        role=body.role,
        name=body.name,
        username=body.username,
        password=body.password.get_secret_value(),
        screened_until=body.screened_until,
        actor=admin.actor,
        now=now,
        document_number=_secret(body.document_number),
        date_of_birth=body.date_of_birth,
        screening_keys=ScreeningKeys.from_settings(settings),
    )
    response.headers["Location"] = f"{router.prefix}/{person.id}"
    return PersonView.of(person)


@router.get("/{person_id}", summary="One person (admin, or a caller of the same party)")
async def get_person(person: VisiblePerson) -> PersonView:
    """A person; callers of other parties get 404 `person_not_found`, as for unknown ids."""
    return PersonView.of(person)


def _secret(value: SecretStr | None) -> str | None:
    return None if value is None else value.get_secret_value()


@router.patch(
    "/{person_id}",
    summary="Change a person's screening date or identity document (admin)",
    responses={422: {**PROBLEM, "description": f"`nothing_to_change`, {_DOCUMENT_CODES}"}},
)
async def update_person(
    person_id: uuid.UUID,
    body: PersonUpdate,
    admin: AdminPrincipal,
    session: SessionDep,
    settings: SettingsDep,
    now: UtcNowDep,
) -> PersonView:
    """Set `screened_until` (null: not screened), and/or record the person's identity
    document (`document_number` with `date_of_birth`: kept beside any on record, hashed
    under the current keys, and screened); 422 `nothing_to_change` for `{}`."""
    fields = body.model_fields_set
    documented = bool({"document_number", "date_of_birth"} & fields)
    if "screened_until" not in fields and not documented:
        raise InvalidInput(
            "nothing_to_change",
            "name a field to change: screened_until, or document_number with date_of_birth",
        )
    if documented and (body.document_number is None or body.date_of_birth is None):
        raise InvalidInput(
            "identity_document_incomplete",
            "document_number and date_of_birth are given together",
        )
    # The document first: bad input is refused before anything changes.
    person: Person | None = None
    if body.document_number is not None and body.date_of_birth is not None:
        person = await service.record_identity_document(
            session,
            person_id=person_id,
            document_number=body.document_number.get_secret_value(),
            date_of_birth=body.date_of_birth,
            screening_keys=ScreeningKeys.from_settings(settings),
            actor=admin.actor,
            now=now,
        )
    if "screened_until" in fields:
        person = await service.set_screened_until(
            session,
            person_id=person_id,
            screened_until=body.screened_until,
            actor=admin.actor,
            now=now,
        )
    if person is None:  # one of the branches ran: the checks above say so
        raise InvalidInput("nothing_to_change", "name a field to change")
    return PersonView.of(person)


@router.post(
    "/{person_id}/suspend",
    summary="Suspend a person, with a reason (admin)",
    responses={409: {**PROBLEM, "description": "`person_already_suspended`"}},
)
async def suspend_person(
    person_id: uuid.UUID,
    admin: AdminPrincipal,
    session: SessionDep,
    now: UtcNowDep,
    body: Annotated[PersonSuspend | None, Body()] = None,
) -> PersonView:
    """Suspend a person; 409 `person_already_suspended`. The body is optional:
    `{"reason": "integrity"}` screens his document across employers from now on
    (docs/screening.md); without a body the reason is `other`. A person suspended for
    another reason can be suspended again for `integrity`."""
    person = await service.suspend_person(
        session,
        person_id=person_id,
        actor=admin.actor,
        now=now,
        reason=body.reason if body is not None else SuspensionReason.other,
    )
    return PersonView.of(person)


@router.post("/{person_id}/reinstate", summary="Reinstate a suspended person (admin)")
async def reinstate_person(
    person_id: uuid.UUID, admin: AdminPrincipal, session: SessionDep, now: UtcNowDep
) -> PersonView:
    """Lift a person's suspension; 409 `person_not_suspended`."""
    person = await service.reinstate_person(
        session, person_id=person_id, actor=admin.actor, now=now
    )
    return PersonView.of(person)


@party_people_router.get(
    "/drivers",
    summary="The party's drivers that may be assigned now (its dispatchers, admins)",
    responses={
        403: {
            **PROBLEM,
            "description": "`driver_list_not_allowed`: a driver or operator of the party itself",
        },
        404: {**PROBLEM, "description": "`party_not_found`: unknown, or another party's"},
    },
)
async def list_assignable_drivers(
    party_id: PartyIdPath, principal: CurrentPrincipal, session: SessionDep, now: UtcNowDep
) -> AssignableDriverList:
    """Active drivers of the party whose screening runs at least through today (UTC), by
    name, each with whether he holds an active device key. For the party's dispatchers,
    administrators and API client, and the port's administrators; a caller of another party
    gets 404 `party_not_found` (as for an unknown id), the party's own drivers and operators
    403 `driver_list_not_allowed`."""
    drivers = await service.assignable_drivers(
        session, party_id=party_id, principal=principal, today=now.date()
    )
    return AssignableDriverList(
        party_id=party_id,
        items=[
            AssignableDriverView(
                person_id=d.person_id,
                name=d.name,
                screened_until=d.screened_until,
                has_device_key=d.has_device_key,
            )
            for d in drivers
        ],
    )
