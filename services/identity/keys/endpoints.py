"""Party keys over HTTP, and custodial signing for signed-in people."""

from typing import Annotated

from fastapi import APIRouter, Depends, Response

from services.identity.deps import AdminPrincipal, CurrentPrincipal, SettingsDep, require_person
from services.identity.keys import service
from services.identity.keys.schemas import (
    KeyRegister,
    KeyRotate,
    PartyKeyView,
    PublicKeyView,
    RotationView,
    Signed,
    SignRequest,
)
from services.identity.parties.service import is_admin, party_not_found
from shared.auth import Principal
from shared.deps import ReadSessionDep, SessionDep
from shared.models import utcnow
from shared.problems import Forbidden

router = APIRouter(tags=["keys"])

PARTY_KEYS = "/v1/parties/{party_id}/keys"


def key_registrar(party_id: str, principal: CurrentPrincipal) -> Principal:
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


@router.post(PARTY_KEYS, status_code=201, summary="Register a party's own public key")
async def register_key(
    party_id: str, body: KeyRegister, caller: KeyRegistrar, session: SessionDep
) -> PartyKeyView:
    """Register an Ed25519 public JWK (422 `private_key_refused`, 409 `key_exists`, …)."""
    # Also 422 `unsupported_key`, `invalid_jwk`, `weak_key`, `kid_mismatch`; 409
    # `key_of_other_party`; 404 `party_not_found` for a caller of another party.
    key = await service.register_key(
        session, party_id=party_id, jwk=body.jwk, actor=caller.actor, now=utcnow()
    )
    return PartyKeyView.of(key)


@router.post(f"{PARTY_KEYS}/custodial", status_code=201, summary="Generate a custodial key")
async def create_custodial_key(
    party_id: str, admin: AdminPrincipal, session: SessionDep, settings: SettingsDep
) -> PartyKeyView:
    """Generate the party's custodial key (kept sealed); 409 `custodial_key_exists`."""
    key = await service.create_custodial_key(
        session, settings=settings, party_id=party_id, actor=admin.actor, now=utcnow()
    )
    return PartyKeyView.of(key)


@router.post(f"{PARTY_KEYS}/rotate", summary="Rotate a party's own or custodial keys (admin)")
async def rotate_keys(
    party_id: str,
    body: KeyRotate,
    admin: AdminPrincipal,
    session: SessionDep,
    settings: SettingsDep,
) -> RotationView:
    """Add a key (own with `jwk`, else custodial) and retire the active ones of that kind."""
    new, retired = await service.rotate_keys(
        session, settings=settings, party_id=party_id, jwk=body.jwk, actor=admin.actor, now=utcnow()
    )
    return RotationView(key=PartyKeyView.of(new), retired=[PartyKeyView.of(k) for k in retired])


@router.post(f"{PARTY_KEYS}/{{kid}}/retire", summary="Retire a key (admin)")
async def retire_key(
    party_id: str, kid: str, admin: AdminPrincipal, session: SessionDep
) -> PartyKeyView:
    """Retire a key: it signs nothing new, its past signatures keep verifying."""
    key = await service.retire_key(
        session, party_id=party_id, kid=kid, actor=admin.actor, now=utcnow()
    )
    return PartyKeyView.of(key)


@router.get(PARTY_KEYS, summary="A party's public keys (any authenticated caller)")
async def list_keys(
    party_id: str, _caller: CurrentPrincipal, session: SessionDep
) -> list[PartyKeyView]:
    """Every key of the party, retired ones included, oldest first."""
    return [PartyKeyView.of(k) for k in await service.list_keys(session, party_id=party_id)]


@router.get("/v1/keys/{kid}", summary="A public key by kid (no authentication)")
async def get_key(kid: str, session: ReadSessionDep, response: Response) -> PublicKeyView:
    """A party's public key by kid, for anyone who verifies what it signed."""
    key = await service.get_key(session, kid=kid)
    response.headers["Cache-Control"] = "public, max-age=60"
    return PublicKeyView.of(key)


@router.post("/v1/sign", summary="Sign a link or acceptance with the party's custodial key")
async def sign(
    body: SignRequest, person: SigningPerson, session: SessionDep, settings: SettingsDep
) -> Signed:
    """Sign for the signed-in person; 409 `no_custodial_key`, 422 `claims_too_large`."""
    jws, kid = await service.sign_for_person(
        session, settings=settings, principal=person, typ=body.typ, claims=body.claims
    )
    return Signed(jws=jws, kid=kid)
