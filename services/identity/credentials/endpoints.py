"""Credentials and status lists over HTTP."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Response

from services.identity.auth import is_admin
from services.identity.credentials import service
from services.identity.credentials.schemas import (
    CredentialIssue,
    CredentialIssued,
    CredentialList,
    CredentialView,
    PartyDirectoryEntry,
    PersonDirectoryEntry,
    StatusReference,
)
from services.identity.credentials.service import CredentialRecord
from services.identity.deps import (
    AdminPrincipal,
    CurrentPrincipal,
    KeyRingCacheDep,
    SettingsDep,
    UtcNowDep,
)
from services.identity.parties import service as parties
from services.identity.people import service as people
from shared.deps import ReadSessionDep, SessionDep
from shared.problems import problem_responses
from shared.status_list import STATUS_LIST_MEDIA_TYPE

router = APIRouter(tags=["credentials"])

# Status list ids are database integers; a bigger number is simply not found, and must
# not reach PostgreSQL as an out-of-range parameter.
ListId = Annotated[int, Path(ge=1, le=2**31 - 1)]
# Longer than any party id: refused as input (422) rather than looked up.
PartyIdPath = Annotated[str, Path(max_length=64)]


def _view(record: CredentialRecord) -> CredentialView:
    credential = record.credential
    return CredentialView(
        credential_id=credential.id,
        party_id=credential.party_id,
        kid=credential.kid,
        roles=list(credential.roles),
        issued_at=credential.issued_at,
        not_before=credential.not_before,
        expires_at=credential.expires_at,
        status=record.status.name,
        suspended=credential.suspended,
        status_list=StatusReference(idx=credential.status_index, uri=record.uri),
        credential=credential.token,
    )


async def visible_credential(
    credential_id: uuid.UUID,
    principal: CurrentPrincipal,
    session: SessionDep,
    settings: SettingsDep,
) -> CredentialRecord:
    """The credential of the path, if the caller is an admin or its party; 404 otherwise."""
    record = await service.get_credential(session, credential_id=credential_id, settings=settings)
    if principal.party_id != record.credential.party_id and not is_admin(principal):
        raise service.credential_not_found()
    return record


VisibleCredential = Annotated[CredentialRecord, Depends(visible_credential)]


@router.post(
    "/v1/credentials",
    status_code=201,
    summary="Issue a credential (admin)",
    responses=problem_responses(404),  # the party named in the body is not registered
)
async def issue_credential(
    body: CredentialIssue,
    admin: AdminPrincipal,
    session: SessionDep,
    settings: SettingsDep,
    keyring: KeyRingCacheDep,
    response: Response,
    now: UtcNowDep,
) -> CredentialIssued:
    """Bind a party to one of its active keys: 404 `party_not_found`, 409 `party_not_active`,
    422 `key_not_found` / `key_of_other_party`, 409 `key_not_active`, 422 `roles_not_held`
    / `roles_empty`."""
    _, signing_key = await keyring.signing()
    record = await service.issue_credential(
        session,
        party_id=body.party_id,
        kid=body.kid,
        roles=body.roles,
        settings=settings,
        signing_key=signing_key,
        actor=admin.actor,
        now=now,
    )
    credential = record.credential
    response.headers["Location"] = f"/v1/credentials/{credential.id}"
    return CredentialIssued(
        credential_id=credential.id,
        credential=credential.token,
        status=StatusReference(idx=credential.status_index, uri=record.uri),
    )


@router.get("/v1/credentials/{credential_id}", summary="One credential (admin, or its party)")
async def get_credential(record: VisibleCredential) -> CredentialView:
    """A credential with its current status; 404 `credential_not_found` for others' too."""
    return _view(record)


@router.get(
    "/v1/parties/{party_id}/credentials", summary="A party's credentials (admin, or the party)"
)
async def list_party_credentials(
    party_id: PartyIdPath,
    principal: CurrentPrincipal,
    session: SessionDep,
    settings: SettingsDep,
) -> CredentialList:
    """Every credential of the party, newest first; 404 `party_not_found` for others."""
    party = await parties.get_visible_party(session, party_id=party_id, principal=principal)
    records = await service.list_party_credentials(session, party_id=party.id, settings=settings)
    return CredentialList(credentials=[_view(record) for record in records])


@router.get(
    "/v1/directory/parties/{party_id}/credentials",
    summary="A party's credentials (public)",
    responses=problem_responses(404, 422),
)
async def party_directory(
    party_id: PartyIdPath, session: ReadSessionDep, response: Response
) -> PartyDirectoryEntry:
    """The party's credentials as signed JWS, newest first; 404 `party_not_found`.

    Public, as a participant registry is: each credential is a signed statement that the
    party holds a key with some roles, and its status list says whether it still counts.
    """
    party = await parties.get_party(session, party_id=party_id)
    tokens = await service.published_credentials(session, party_id=party.id)
    # Short: a new key's credential should reach verifiers soon after it is issued.
    response.headers["Cache-Control"] = "public, max-age=30"
    return PartyDirectoryEntry(party_id=party.id, credentials=tokens)


@router.get(
    "/v1/directory/people/{person_id}/credentials",
    summary="A person's device credentials (public)",
    responses=problem_responses(404, 422),
)
async def person_directory(
    person_id: uuid.UUID, session: ReadSessionDep, response: Response
) -> PersonDirectoryEntry:
    """The person's device credentials as signed JWS, newest first; 404 `person_not_found`.

    What a verifier needs to check a driver's own acceptance of an assignment: each names
    the person (`sub`) and his party (`party`); its status list says whether it counts.
    """
    person = await people.get_person(session, person_id=person_id)
    tokens = await service.published_person_credentials(session, person_id=person.id)
    response.headers["Cache-Control"] = "public, max-age=30"
    return PersonDirectoryEntry(person_id=person.id, party_id=person.party_id, credentials=tokens)


@router.post("/v1/credentials/{credential_id}/suspend", summary="Suspend a credential (admin)")
async def suspend_credential(
    credential_id: uuid.UUID,
    admin: AdminPrincipal,
    session: SessionDep,
    settings: SettingsDep,
    now: UtcNowDep,
) -> CredentialView:
    """Its entry becomes SUSPENDED; 409 `credential_already_suspended`, `credential_revoked`."""
    record = await service.suspend_credential(
        session, credential_id=credential_id, settings=settings, actor=admin.actor, now=now
    )
    return _view(record)


@router.post("/v1/credentials/{credential_id}/reinstate", summary="Reinstate a credential (admin)")
async def reinstate_credential(
    credential_id: uuid.UUID,
    admin: AdminPrincipal,
    session: SessionDep,
    settings: SettingsDep,
    now: UtcNowDep,
) -> CredentialView:
    """Lift its suspension; 409 `credential_not_suspended`, `party_not_active`,
    `credential_revoked`."""
    record = await service.reinstate_credential(
        session, credential_id=credential_id, settings=settings, actor=admin.actor, now=now
    )
    return _view(record)


@router.post("/v1/credentials/{credential_id}/revoke", summary="Revoke a credential (admin)")
async def revoke_credential(
    credential_id: uuid.UUID,
    admin: AdminPrincipal,
    session: SessionDep,
    settings: SettingsDep,
    now: UtcNowDep,
) -> CredentialView:
    """Its entry becomes INVALID for good; 409 `credential_revoked` the second time."""
    record = await service.revoke_credential(
        session, credential_id=credential_id, settings=settings, actor=admin.actor, now=now
    )
    return _view(record)


@router.get(
    "/v1/status-lists/{list_id}",
    summary="A Token Status List (public)",
    response_class=Response,
    responses={200: {"content": {STATUS_LIST_MEDIA_TYPE: {"schema": {"type": "string"}}}}},
)
async def get_status_list(
    list_id: ListId,
    session: ReadSessionDep,
    settings: SettingsDep,
    keyring: KeyRingCacheDep,
    now: UtcNowDep,
) -> Response:
    """The signed `statuslist+jwt`, valid for `ttl` seconds; 404 `status_list_not_found`."""
    _, signing_key = await keyring.signing()
    token = await service.status_list_token(
        session, list_id=list_id, settings=settings, signing_key=signing_key, now=now
    )
    # Half the token's life at most, so a copy from any cache still has half its life.
    max_age = settings.status_list_ttl_seconds // 2
    return Response(
        token,
        media_type=STATUS_LIST_MEDIA_TYPE,
        headers={"Cache-Control": f"public, max-age={max_age}"},
    )
