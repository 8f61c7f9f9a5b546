"""Party keys over HTTP, people's device keys, and custodial signing for signed-in people."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from services.identity.auth import is_admin
from services.identity.deps import (
    AdminPrincipal,
    CurrentPrincipal,
    KeyRingCacheDep,
    SettingsDep,
    UtcNowDep,
    require_person,
)
from services.identity.keys import service
from services.identity.keys.schemas import (
    DeviceKeyRegistered,
    KeyNoticeView,
    KeyRegister,
    KeyRotate,
    PartyKeyView,
    PublicKeyView,
    RotationView,
    Signed,
    SignRequest,
)
from services.identity.parties.service import party_not_found
from shared.auth import Principal
from shared.deps import ReadSessionDep, SessionDep
from shared.problems import Forbidden, problem_responses

router = APIRouter(tags=["keys"])

PARTY_KEYS = "/v1/parties/{party_id}/keys"


async def key_registrar(party_id: str, principal: CurrentPrincipal) -> Principal:
    """An admin, or the API client of the party itself (not one of its people)."""
    if is_admin(principal):
        return principal
    if principal.party_id != party_id:
        raise party_not_found()
    if principal.person_id is not None:
        raise Forbidden("client_required", "a party's own keys are registered by its API client")
    return principal


KeyRegistrar = Annotated[Principal, Depends(key_registrar)]
SigningPerson = Annotated[Principal, Depends(require_person())]


@router.post(
    PARTY_KEYS,
    status_code=201,
    summary="Register a party's own public key (an admin, or the party with proof of both keys)",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def register_key(
    party_id: str,
    body: KeyRegister,
    caller: KeyRegistrar,
    session: SessionDep,
    settings: SettingsDep,
    now: UtcNowDep,
) -> PartyKeyView:
    """Register an Ed25519 public JWK: an admin, or the party's client with both proofs."""
    # 403 `key_proof_required`, `key_proof_not_certified`; 422 `key_proof_invalid`,
    # `private_key_refused`, `unsupported_key`, `invalid_jwk`, `weak_key`, `kid_mismatch`;
    # 409 `key_exists`, `key_of_other_party`, `key_proof_replayed`; 404 `party_not_found`.
    key = await service.register_key_for(
        session,
        settings=settings,
        caller=caller,
        party_id=party_id,
        jwk=body.jwk,
        proof=body.proof,
        new_key_proof=body.new_key_proof,
        now=now,
    )
    return PartyKeyView.of(key)


@router.post(f"{PARTY_KEYS}/custodial", status_code=201, summary="Generate a custodial key")
async def create_custodial_key(
    party_id: str, admin: AdminPrincipal, session: SessionDep, settings: SettingsDep, now: UtcNowDep
) -> PartyKeyView:
    """Generate the party's custodial key (kept sealed); 409 `custodial_key_exists`."""
    key = await service.create_custodial_key(
        session, settings=settings, party_id=party_id, actor=admin.actor, now=now
    )
    return PartyKeyView.of(key)


@router.post(f"{PARTY_KEYS}/rotate", summary="Rotate a party's own or custodial keys (admin)")
async def rotate_keys(
    party_id: str,
    body: KeyRotate,
    admin: AdminPrincipal,
    session: SessionDep,
    settings: SettingsDep,
    now: UtcNowDep,
) -> RotationView:
    """Add a key (own with `jwk`, else custodial) and retire the active ones of that kind."""
    new, retired = await service.rotate_keys(
        session, settings=settings, party_id=party_id, jwk=body.jwk, actor=admin.actor, now=now
    )
    return RotationView(key=PartyKeyView.of(new), retired=[PartyKeyView.of(k) for k in retired])


@router.post(
    f"{PARTY_KEYS}/{{kid}}/retire",
    summary="Retire a key and suspend its credentials (admin)",
    responses=problem_responses(401, 403, 404, 409),
)
async def retire_key(
    party_id: str,
    kid: str,
    admin: AdminPrincipal,
    session: SessionDep,
    settings: SettingsDep,
    now: UtcNowDep,
) -> PartyKeyView:
    """Retire a key and suspend its credentials; its past signatures keep verifying."""
    key = await service.retire_key(
        session, settings=settings, party_id=party_id, kid=kid, actor=admin.actor, now=now
    )
    return PartyKeyView.of(key)


@router.get(PARTY_KEYS, summary="A party's public keys (any authenticated caller)")
async def list_keys(
    party_id: str, caller: CurrentPrincipal, session: SessionDep
) -> list[PartyKeyView]:
    """Every key of the party, retired ones included, oldest first (device keys: the party's
    own callers and administrators only)."""
    keys = await service.list_keys(session, party_id=party_id, caller=caller)
    return [PartyKeyView.of(key) for key in keys]


@router.get("/v1/keys/{kid}", summary="A public key by kid (no authentication)")
async def get_key(kid: str, session: ReadSessionDep, response: Response) -> PublicKeyView:
    """A party's public key by kid, for anyone who verifies what it signed."""
    key = await service.get_key(session, kid=kid)
    response.headers["Cache-Control"] = "public, max-age=60"
    return PublicKeyView.of(key)


@router.post(
    "/v1/sign",
    summary="Sign a step the person's role may take with the party's custodial key",
    responses=problem_responses(401, 403, 409, 422),
)
async def sign(
    body: SignRequest,
    person: SigningPerson,
    session: SessionDep,
    settings: SettingsDep,
    now: UtcNowDep,
) -> Signed:
    """Sign a step the person's role may take (403 `signing_not_allowed`); 409
    `no_custodial_key`, 422 `claims_too_large`. `iat` is set here, `exp` bounded, and the
    person named in `act`."""
    jws, kid = await service.sign_for_person(
        session,
        settings=settings,
        principal=person,
        typ=body.typ,
        claims=body.claims,
        now=now,
    )
    return Signed(jws=jws, kid=kid)


@router.post(
    "/v1/people/{person_id}/device-keys",
    status_code=201,
    summary="Register a driver's own device key (the driver himself, or an admin)",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def register_device_key(
    person_id: uuid.UUID,
    body: KeyRegister,
    caller: CurrentPrincipal,
    session: SessionDep,
    settings: SettingsDep,
    keyring: KeyRingCacheDep,
    now: UtcNowDep,
) -> DeviceKeyRegistered:
    """Register the driver's Ed25519 public JWK and issue its device credential (`sub`: the
    driver); 404 `person_not_found`, 403 `device_key_for_drivers`, 409 `person_not_active`."""
    _, signing_key = await keyring.signing()
    key, record = await service.register_device_key(
        session,
        settings=settings,
        signing_key=signing_key,
        caller=caller,
        person_id=person_id,
        jwk=body.jwk,
        now=now,
    )
    return DeviceKeyRegistered(
        key=PartyKeyView.of(key),
        credential_id=record.credential.id,
        credential=record.credential.token,
    )


@router.get(
    "/v1/people/{person_id}/device-keys",
    summary="A driver's device keys (the driver himself, or an admin)",
    responses=problem_responses(401, 404, 422),
)
async def list_device_keys(
    person_id: uuid.UUID, caller: CurrentPrincipal, session: SessionDep
) -> list[PartyKeyView]:
    """The person's device keys, retired ones included; 404 `person_not_found`."""
    keys = await service.device_keys(session, caller=caller, person_id=person_id)
    return [PartyKeyView.of(key) for key in keys]


@router.get(
    f"{PARTY_KEYS.removesuffix('/keys')}/key-notices",
    summary="Changes to a party's keys, for its administrators",
    responses=problem_responses(401, 403, 404, 422),
)
async def list_key_notices(
    party_id: str,
    caller: CurrentPrincipal,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[KeyNoticeView]:
    """Keys registered, created and retired, newest first (the party's admins, or the port's)."""
    notices = await service.key_notices(session, caller=caller, party_id=party_id, limit=limit)
    return [KeyNoticeView.of(notice) for notice in notices]
