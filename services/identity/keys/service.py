"""Party keys: own public keys, custodial keys sealed at rest, rotation, custodial signing,
and people's device keys.

A custodial private key is sealed (AES-GCM under the key-encryption key, bound to
`party_keys:<party id>:<kid>`) the moment it is made, opened only to sign, and its sealed
copy is erased when the key retires: a retired key can then sign nothing, by construction,
while its public half stays served so that what it signed keeps verifying. Keys sealed
before the party was bound in (`party_keys:<kid>`) still open, and are sealed again with
the party bound in the first time they are used.

**Registering a key** is how a leaked one-hour token would become permanent access, so an
API client may register a key only with proof of possession of both keys: a
`ketenpas-key-proof+jwt` signed by one of the party's current keys that holds a valid
credential, and the same claims signed by the new key (`iss` the party, `aud` this issuer,
`jkt` the new kid, `iat`, `exp` at most 60 s later, `jti` used once). Administrators need
no proof. Every change to a party's keys is audited and left as a key notice for the
party's administrators (`GET /v1/parties/{id}/key-notices`).

**Custodial signing** (docs/design.md, Wire formats) signs only a step the person's
role may take for his party: a dispatcher signs a release for a shipping line, a handover
for a forwarder or carrier, an assignment for a carrier, and the acceptance of a release or
handover for a forwarder or carrier. A driver never signs for his party: he accepts an
assignment with his own device key. The service sets `iat`, bounds `exp`, and names the
person (`act: {sub: person id}`).

Retiring a key suspends its credentials, so that nothing it signs afterwards verifies.
"""

import hashlib
import json
import uuid
from collections.abc import Mapping, Sequence
from contextlib import suppress
from datetime import UTC, datetime
from typing import Any

import structlog
from joserfc.jwk import OKPKey
from joserfc.util import urlsafe_b64decode, urlsafe_b64encode
from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from services.identity.auth import is_admin
from services.identity.credentials import service as credentials
from services.identity.credentials.service import CredentialRecord
from services.identity.keys import repository
from services.identity.keys.models import KeyNotice, KeyStatus, PartyKey
from services.identity.oauth import repository as used_proofs
from services.identity.parties import repository as parties
from services.identity.parties.models import Party, PartyRole, PartyStatus
from services.identity.parties.service import party_not_found
from services.identity.people import repository as people
from services.identity.people.models import PersonRole, PersonStatus
from services.identity.people.service import person_not_found
from services.identity.sealing import SealError, seal, unseal
from services.identity.settings import IdentitySettings
from shared import jose
from shared.audit.events import append
from shared.auth import Principal
from shared.problems import Conflict, Forbidden, InvalidInput, NotFound, Problem

logger = structlog.get_logger(__name__)

LINK_TYP = "ketenpas-link+jwt"
ACK_TYP = "ketenpas-ack+jwt"
CUSTODIAL_TYPS = frozenset({LINK_TYP, ACK_TYP})
#: Links and acceptances are a few hundred bytes; the bound keeps signing cheap.
MAX_CLAIMS_BYTES = 8 * 1024

#: The longest a custodially signed link may live (the release service's default link
#: lifetime; a release's own `valid_until` bounds the right anyway).
MAX_LINK_LIFETIME = 30 * 86400
#: An acceptance is submitted the moment it is signed; its `exp` only bounds a copy's use.
ACK_LIFETIME = 3600
#: The person roles that take steps of the chain for their party.
SIGNING_PERSON_ROLES: frozenset[str] = frozenset({PersonRole.dispatcher})
#: The link kinds a party signs, by party role (docs/design.md, Domain).
LINK_KINDS_BY_PARTY_ROLE: dict[str, frozenset[str]] = {
    PartyRole.shipping_line: frozenset({"release"}),
    PartyRole.forwarder: frozenset({"handover"}),
    PartyRole.carrier: frozenset({"handover", "assignment"}),
}
#: The party roles that receive (and so accept) a release or a handover.
ACK_PARTY_ROLES: frozenset[str] = frozenset({PartyRole.forwarder, PartyRole.carrier})

KEY_PROOF_TYP = "ketenpas-key-proof+jwt"
KEY_PROOF_MAX_LIFETIME = 60
KEY_PROOF_LEEWAY = 30
jose.ALLOWED_ALGS[KEY_PROOF_TYP] = jose.DEFAULT_ALLOWED_ALGS

# What a public Ed25519 JWK may say about itself; anything else (x5c, jku, …) is refused.
_PUBLIC_MEMBERS = frozenset({"kty", "crv", "x", "kid", "use", "alg", "key_ops"})
# Private members of any key type (RFC 7518 §6, RFC 8037 §2): a private key sent to us is
# already compromised, so it is refused rather than stripped.
_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})

# Ed25519 public keys of small order (RFC 8032 §5.1.3 decoding; libsodium's block list):
# their y coordinates, whatever the sign bit. Such a key makes a signature that verifies
# for many messages, so it could never hold a party to what it signed.
_P = 2**255 - 19
_ORDER_8_Y = 2707385501144840649318225287225658788936804267575313519463743609750303402022
_SMALL_ORDER_Y = frozenset({0, 1, _P - 1, _ORDER_8_Y, _P - _ORDER_8_Y})


def bound_to(kid: str, party_id: str) -> str:
    """The row name a custodial key is sealed for (associated data of the AES-GCM seal):
    its kid and its party, so a sealed key moved to another party's row does not open."""
    return f"party_keys:{party_id}:{kid}"


def legacy_bound_to(kid: str) -> str:
    """The row name keys were sealed for before the party was bound in."""
    return f"party_keys:{kid}"


def key_not_found() -> NotFound:
    """The answer for a kid that is not (or not of this party) registered."""
    return NotFound("key_not_found", "no such key")


def _ascii_names(names: Sequence[str]) -> str:
    # Member names come from the caller: escaped, so no odd character reaches a response.
    return ", ".join(ascii(name) for name in sorted(names)[:5])


def parse_public_jwk(jwk: Mapping[str, Any]) -> tuple[str, dict[str, str]]:
    """The kid and canonical public JWK of an Ed25519 public JWK; 422 saying why otherwise."""
    private = _PRIVATE_MEMBERS.intersection(jwk)
    if private:
        raise InvalidInput(
            "private_key_refused",
            "send the public key only: private members are refused (and the key should "
            "now be treated as exposed)",
        )
    if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
        raise InvalidInput("unsupported_key", "only Ed25519 keys (kty OKP, crv Ed25519)")
    unknown = set(jwk) - _PUBLIC_MEMBERS
    if unknown:
        raise InvalidInput("invalid_jwk", f"members not accepted: {_ascii_names(list(unknown))}")
    x = jwk.get("x")
    try:
        if not isinstance(x, str):
            raise ValueError("x must be a string")
        raw = urlsafe_b64decode(x.encode("ascii"))
        if len(raw) != 32:
            raise ValueError("x must be 32 bytes")
        key = jose.import_key({"kty": "OKP", "crv": "Ed25519", "x": x})
    except ValueError:
        raise InvalidInput(
            "invalid_jwk", "x must be the 32-byte public key in unpadded base64url"
        ) from None
    y = int.from_bytes(raw, "little") & ((1 << 255) - 1)
    if y >= _P or y in _SMALL_ORDER_Y:
        raise InvalidInput("weak_key", "this public key has small order or is not canonical")
    kid = jose.thumbprint(key)
    if "kid" in jwk and jwk["kid"] != kid:
        raise InvalidInput("kid_mismatch", "kid must be the key's RFC 7638 thumbprint")
    if jwk.get("use", "sig") != "sig":
        raise InvalidInput("invalid_jwk", "use must be 'sig'")
    if jwk.get("alg", jose.SIGNING_ALG) not in jose.DEFAULT_ALLOWED_ALGS:
        raise InvalidInput("invalid_jwk", "alg must be 'Ed25519' (or 'EdDSA')")
    key_ops = jwk.get("key_ops", ["verify"])
    if not isinstance(key_ops, list) or "verify" not in key_ops:
        raise InvalidInput("invalid_jwk", "key_ops must allow 'verify'")
    return kid, jose.public_jwk(key)


async def _lock_party_for_keys(session: AsyncSession, party_id: str) -> Party:
    # The party row lock serialises key changes of one party (at most one active custodial
    # key, a rotation never half-seen) and orders them against a revocation.
    party = await parties.lock(session, party_id)
    if party is None:
        raise party_not_found()
    if party.status == PartyStatus.revoked:
        raise Conflict("party_revoked", "the party is revoked: it gets no new keys")
    return party


async def _add(
    session: AsyncSession, key: PartyKey, *, actor: str, extra: dict[str, Any] | None = None
) -> PartyKey:
    existing = await repository.get(session, key.kid)
    if existing is not None:
        if existing.party_id != key.party_id:
            raise Conflict("key_of_other_party", "this key is registered to another party")
        raise Conflict("key_exists", "this key is already registered")
    session.add(key)
    try:
        await session.flush()  # a concurrent registration of the same kid is answered now
    except IntegrityError as exc:
        raise Conflict("key_exists", "this key is already registered") from exc
    event = "party_key.created" if key.custodial else "party_key.registered"
    detail: dict[str, Any] = {"custodial": key.custodial, **(extra or {})}
    if key.person_id is not None:
        event, detail["person_id"] = "party_key.device_registered", str(key.person_id)
    await append(
        session, event, {"party_id": key.party_id, "kid": key.kid, "actor": actor, **detail}
    )
    notify_admins(session, key, event=event, actor=actor, detail=detail)
    return key


def notify_admins(
    session: AsyncSession, key: PartyKey, *, event: str, actor: str, detail: dict[str, Any]
) -> None:
    """Leave a key notice for the party's administrators (they list them; no mail exists)."""
    session.add(
        KeyNotice(party_id=key.party_id, kid=key.kid, event=event, actor=actor, detail=detail)
    )


def _own_key(party_id: str, jwk: Mapping[str, Any], now: datetime) -> PartyKey:
    kid, public = parse_public_jwk(jwk)
    return PartyKey(kid=kid, party_id=party_id, public_jwk=public, created_at=now)


def _new_custodial_key(settings: IdentitySettings, party_id: str, now: datetime) -> PartyKey:
    private = jose.generate_key()
    kid = jose.thumbprint(private)
    return PartyKey(
        kid=kid,
        party_id=party_id,
        public_jwk=jose.public_jwk(private),
        custodial=True,
        sealed_private=seal(
            settings.kek_bytes(), private.as_pem(private=True), bound_to=bound_to(kid, party_id)
        ),
        created_at=now,
    )


async def _retire(
    session: AsyncSession,
    key: PartyKey,
    *,
    settings: IdentitySettings,
    actor: str,
    now: datetime,
    reason: str,
) -> PartyKey:
    key.status = KeyStatus.retired
    key.retired_at = now
    key.sealed_private = None  # a retired key signs nothing new: its private half is erased
    session.add(key)
    # An own key's private half is not ours to erase: suspending its credentials is what
    # makes a link it signs (backdated or not) fail verification from now on.
    suspended = await credentials.suspend_key_credentials(
        session, kid=key.kid, settings=settings, actor=actor, now=now
    )
    detail: dict[str, Any] = {
        "custodial": key.custodial,
        "reason": reason,
        "credentials_suspended": suspended,
    }
    await append(
        session,
        "party_key.retired",
        {"party_id": key.party_id, "kid": key.kid, "actor": actor, **detail},
    )
    notify_admins(session, key, event="party_key.retired", actor=actor, detail=detail)
    return key


async def register_key(
    session: AsyncSession, *, party_id: str, jwk: Mapping[str, Any], actor: str, now: datetime
) -> PartyKey:
    """Register a party's own Ed25519 public key (kid: its RFC 7638 thumbprint)."""
    await _lock_party_for_keys(session, party_id)
    return await _add(session, _own_key(party_id, jwk, now), actor=actor)


async def register_key_for(
    session: AsyncSession,
    *,
    settings: IdentitySettings,
    caller: Principal,
    party_id: str,
    jwk: Mapping[str, Any],
    proof: str | None,
    new_key_proof: str | None,
    now: datetime,
) -> PartyKey:
    """Register a party's own key: an administrator as he likes, the party's API client only
    with proof of possession of a certified current key and of the new key."""
    if is_admin(caller):
        return await register_key(session, party_id=party_id, jwk=jwk, actor=caller.actor, now=now)
    new = _own_key(party_id, jwk, now)  # a malformed key is refused for what it is (422)
    if proof is None or new_key_proof is None:
        raise Forbidden(
            "key_proof_required",
            "a new key needs `proof` (signed by a current, certified key) and `new_key_proof`"
            " (signed by the new key), or an administrator",
        )
    await _lock_party_for_keys(session, party_id)
    proven_by, jti = await _check_key_proofs(
        session,
        settings=settings,
        party_id=party_id,
        new=new,
        proof=proof,
        new_key_proof=new_key_proof,
        now=now,
    )
    return await _add(session, new, actor=caller.actor, extra={"proven_by": proven_by, "jti": jti})


def _proof_claims(token: str, key: OKPKey | None, kid: object, what: str) -> dict[str, Any]:
    try:
        verified = jose.verify(
            token,
            typ=KEY_PROOF_TYP,
            resolve_key=lambda wanted: key if key is not None and wanted == kid else None,
        )
    except jose.TokenError as exc:
        raise InvalidInput("key_proof_invalid", f"{what}: {exc.detail}") from None
    return verified.claims


async def _check_key_proofs(
    session: AsyncSession,
    *,
    settings: IdentitySettings,
    party_id: str,
    new: PartyKey,
    proof: str,
    new_key_proof: str,
    now: datetime,
) -> tuple[str, str]:
    """Check both proofs; returns (the proving kid, the jti), the jti spent."""
    try:
        header, _ = jose.peek(proof)
    except jose.TokenError as exc:
        raise InvalidInput("key_proof_invalid", f"proof: {exc.detail}") from None
    kid = header.get("kid")
    current = await repository.get(session, kid) if isinstance(kid, str) and kid else None
    if (
        current is None
        or current.party_id != party_id
        or current.person_id is not None
        or current.status != KeyStatus.active
    ):
        raise Forbidden("key_proof_not_certified", "the proof is not signed by a current key")
    claims = _proof_claims(proof, jose.import_key(current.public_jwk), kid, "proof")
    new_claims = _proof_claims(
        new_key_proof, jose.import_key(new.public_jwk), new.kid, "new_key_proof"
    )
    if claims != new_claims:
        raise InvalidInput("key_proof_invalid", "both proofs must carry the same claims")
    try:
        jose.check_times(
            claims, now.timestamp(), leeway=KEY_PROOF_LEEWAY, max_lifetime=KEY_PROOF_MAX_LIFETIME
        )
    except jose.TokenError as exc:
        raise InvalidInput("key_proof_invalid", f"proof: {exc.detail}") from None
    jti = claims.get("jti")
    if (
        claims.get("iss") != party_id
        or claims.get("aud") != settings.issuer
        or claims.get("jkt") != new.kid
        or not isinstance(jti, str)
        or not 0 < len(jti) <= 100
        or not jti.isprintable()
    ):
        raise InvalidInput(
            "key_proof_invalid",
            "a proof names the party (iss), this issuer (aud), the new key (jkt) and a jti",
        )
    if not await credentials.certified(session, kid=current.kid, subject=party_id, now=now):
        raise Forbidden(
            "key_proof_not_certified", "the proving key holds no valid credential of the party"
        )
    exp = float(claims["exp"]) + KEY_PROOF_LEEWAY
    if not await used_proofs.record_assertion(
        session,
        party_id=party_id,
        jti=f"key-proof:{jti}",
        expires_at=datetime.fromtimestamp(exp, UTC),
    ):
        raise Conflict("key_proof_replayed", "this proof (jti) was used before")
    return current.kid, jti


async def register_device_key(
    session: AsyncSession,
    *,
    settings: IdentitySettings,
    signing_key: OKPKey,
    caller: Principal,
    person_id: uuid.UUID,
    jwk: Mapping[str, Any],
    now: datetime,
) -> tuple[PartyKey, CredentialRecord]:
    """Register a driver's own device key (by himself or an administrator) and certify it
    with a device credential whose subject is the driver."""
    person = await people.get(session, person_id)
    if person is None or not (is_admin(caller) or caller.person_id == person_id):
        raise person_not_found()
    if person.role != PersonRole.driver:
        raise Forbidden("device_key_for_drivers", "device keys are for drivers")
    if person.status != PersonStatus.active:
        raise Conflict("person_not_active", "the person is suspended")
    await _lock_party_for_keys(session, person.party_id)
    kid, public = parse_public_jwk(jwk)
    key = PartyKey(
        kid=kid, party_id=person.party_id, public_jwk=public, person_id=person.id, created_at=now
    )
    await _add(session, key, actor=caller.actor)
    record = await credentials.issue_device_credential(
        session,
        person_id=person.id,
        kid=kid,
        role=person.role,
        settings=settings,
        signing_key=signing_key,
        actor=caller.actor,
        now=now,
    )
    return key, record


async def device_keys(
    session: AsyncSession, *, caller: Principal, person_id: uuid.UUID
) -> list[PartyKey]:
    """A person's device keys, for himself or an administrator."""
    person = await people.get(session, person_id)
    if person is None or not (is_admin(caller) or caller.person_id == person_id):
        raise person_not_found()
    return [
        k for k in await repository.of_party(session, person.party_id) if k.person_id == person_id
    ]


async def key_notices(
    session: AsyncSession, *, caller: Principal, party_id: str, limit: int
) -> list[KeyNotice]:
    """The party's key notices, newest first: for its administrators and the port's."""
    own_admin = caller.party_id == party_id and caller.person_role == PersonRole.admin
    if not (is_admin(caller) or own_admin):
        if caller.party_id != party_id:
            raise party_not_found()
        raise Forbidden("admin_required", "key notices are for the party's administrators")
    if await parties.get(session, party_id) is None:
        raise party_not_found()
    return list(await repository.notices(session, party_id, limit=limit))


async def create_custodial_key(
    session: AsyncSession, *, settings: IdentitySettings, party_id: str, actor: str, now: datetime
) -> PartyKey:
    """Generate the party's custodial key, sealed at rest; 409 if it already has one."""
    await _lock_party_for_keys(session, party_id)
    if await repository.active_of_kind(session, party_id, custodial=True):
        raise Conflict(
            "custodial_key_exists", "the party already has an active custodial key: rotate it"
        )
    return await _add(session, _new_custodial_key(settings, party_id, now), actor=actor)


async def retire_key(
    session: AsyncSession,
    *,
    settings: IdentitySettings,
    party_id: str,
    kid: str,
    actor: str,
    now: datetime,
) -> PartyKey:
    """Retire a key and suspend its credentials: it signs nothing new that verifies."""
    await _lock_party_for_keys(session, party_id)
    key = await repository.get(session, kid)
    if key is None or key.party_id != party_id:
        raise key_not_found()
    if key.status == KeyStatus.retired:
        raise Conflict("key_retired", "the key is already retired")
    return await _retire(session, key, settings=settings, actor=actor, now=now, reason="retired")


async def rotate_keys(
    session: AsyncSession,
    *,
    settings: IdentitySettings,
    party_id: str,
    jwk: Mapping[str, Any] | None,
    actor: str,
    now: datetime,
) -> tuple[PartyKey, list[PartyKey]]:
    """Add a new key (own with `jwk`, custodial without) and retire the active ones of its kind."""
    await _lock_party_for_keys(session, party_id)
    new = (
        _new_custodial_key(settings, party_id, now) if jwk is None else _own_key(party_id, jwk, now)
    )
    previous = await repository.active_of_kind(session, party_id, custodial=new.custodial)
    await _add(session, new, actor=actor)
    retired = [
        await _retire(
            session, old, settings=settings, actor=actor, now=now, reason=f"rotated to {new.kid}"
        )
        for old in previous
        if old.person_id is None  # a driver's device key is his, not the party's to rotate
    ]
    return new, retired


async def list_keys(
    session: AsyncSession, *, party_id: str, caller: Principal | None = None
) -> list[PartyKey]:
    """Every key of an existing party, oldest first, retired ones included; its people's
    device keys only for the party itself and administrators (they name its drivers)."""
    if await parties.get(session, party_id) is None:
        raise party_not_found()
    keys = list(await repository.of_party(session, party_id))
    if caller is not None and not (is_admin(caller) or caller.party_id == party_id):
        keys = [key for key in keys if key.person_id is None]
    return keys


async def get_key(session: AsyncSession, *, kid: str) -> PartyKey:
    """A party key by kid, or 404."""
    key = await repository.get(session, kid)
    if key is None:
        raise key_not_found()
    return key


def _claims_payload(claims: Mapping[str, Any]) -> bytes:
    try:
        payload = json.dumps(
            dict(claims), separators=(",", ":"), ensure_ascii=False, allow_nan=False
        ).encode("utf-8")
    except (ValueError, TypeError, RecursionError):
        # NaN and Infinity parse from JSON in Python but are not JSON; lone surrogates
        # parse but are not text.
        raise InvalidInput("invalid_claims", "claims must be plain JSON") from None
    if len(payload) > MAX_CLAIMS_BYTES:
        raise InvalidInput("claims_too_large", f"claims are limited to {MAX_CLAIMS_BYTES} bytes")
    return payload


async def sign_as_party(
    session: AsyncSession,
    *,
    settings: IdentitySettings,
    party_id: str,
    typ: str,
    claims: Mapping[str, Any],
) -> tuple[str, str]:
    """Sign claims with the active party's custodial key; returns (compact JWS, kid)."""
    # No audit event here: the caller appends one naming whom the signature was made for.
    if typ not in CUSTODIAL_TYPS:
        raise InvalidInput("typ_not_allowed", f"custodial keys sign only {sorted(CUSTODIAL_TYPS)}")
    _claims_payload(claims)
    party = await parties.get(session, party_id)
    if party is None:
        raise party_not_found()
    if party.status != PartyStatus.active:
        raise Conflict("party_not_active", "only an active party signs")
    keys = await repository.active_of_kind(session, party_id, custodial=True)
    row = keys[0] if keys else None
    if row is None or row.sealed_private is None:
        raise Conflict("no_custodial_key", "the party has no active custodial key")
    private = OKPKey.import_key(_open_custodial(session, settings, row, bytes(row.sealed_private)))
    try:
        jws = jose.sign(claims, private, typ=typ)
    except (ValueError, jose.TokenError):
        raise InvalidInput("invalid_claims", "claims must be plain JSON") from None
    return jws, row.kid


def _open_custodial(
    session: AsyncSession, settings: IdentitySettings, row: PartyKey, sealed: bytes
) -> bytes:
    """The private key of a custodial row (`sealed`: its sealed private half); a key sealed
    before the party was bound in is sealed again with it (in the caller's transaction)."""
    kek = settings.kek_bytes()
    with suppress(SealError):  # else: perhaps sealed before the party was bound in
        return unseal(kek, sealed, bound_to=bound_to(row.kid, row.party_id))
    try:
        pem = unseal(kek, sealed, bound_to=legacy_bound_to(row.kid))
    except SealError:
        # Wrong key-encryption key, a tampered row, or a key moved to another party's
        # row: an operator's problem, not the caller's.
        logger.error("custodial_key_unseal_failed", party_id=row.party_id, kid=row.kid)
        raise Problem(
            "custodial_key_unusable", "the party's custodial key cannot be used", status=500
        ) from None
    row.sealed_private = seal(kek, pem, bound_to=bound_to(row.kid, row.party_id))
    session.add(row)
    logger.info("custodial_key_resealed", party_id=row.party_id, kid=row.kid)
    return pem


def _signing_refused(detail: str) -> Forbidden:
    return Forbidden("signing_not_allowed", detail)


def custodial_claims(
    principal: Principal, *, typ: str, claims: Mapping[str, Any], now: int
) -> dict[str, Any]:
    """What the service signs for a person: only a step his role may take for his party,
    with `iat` set here, `exp` bounded, and the person named (`act`)."""
    if principal.person_id is None:
        raise Forbidden("person_required", "custodial signing is for a signed-in person")
    if principal.person_role not in SIGNING_PERSON_ROLES:
        # A driver accepts with his own device key; operators and officers take no steps.
        raise _signing_refused(
            f"a {principal.person_role} does not sign for his party"
            + (": accept with your own device key" if principal.person_role == "driver" else "")
        )
    signed = dict(claims)
    roles = principal.party_roles
    if typ == LINK_TYP:
        if claims.get("from") != principal.party_id:
            # A link is signed by the party that holds the right; a person signs only for his own.
            raise InvalidInput("claims_from_mismatch", "a link's `from` must be your party's id")
        kind = claims.get("kind")
        allowed = frozenset().union(*(LINK_KINDS_BY_PARTY_ROLE.get(r, frozenset()) for r in roles))
        if not isinstance(kind, str) or kind not in allowed:
            raise _signing_refused("your party's roles do not sign this kind of link")
        exp = claims.get("exp")
        if isinstance(exp, bool) or not isinstance(exp, int | float) or not exp > now:
            raise InvalidInput("invalid_claims", "a link needs an `exp` in the future")
        signed["exp"] = int(min(exp, now + MAX_LINK_LIFETIME))
    else:
        if ACK_PARTY_ROLES.isdisjoint(roles):
            raise _signing_refused("your party receives no releases or handovers")
        if "sub" in claims:
            # An acceptance that names a driver is the driver's own, by his device key.
            raise _signing_refused("a driver accepts an assignment with his own device key")
        if not isinstance(claims.get("link"), str):
            raise InvalidInput("invalid_claims", "an acceptance names the `link` it accepts")
        signed["exp"] = now + ACK_LIFETIME
    signed["iat"] = now
    signed["act"] = {"sub": str(principal.person_id)}
    return signed


async def sign_for_person(
    session: AsyncSession,
    *,
    settings: IdentitySettings,
    principal: Principal,
    typ: str,
    claims: Mapping[str, Any],
    now: datetime,
) -> tuple[str, str]:
    """Sign for a signed-in person with his party's custodial key; the audit names him."""
    if typ not in CUSTODIAL_TYPS:
        raise InvalidInput("typ_not_allowed", f"custodial keys sign only {sorted(CUSTODIAL_TYPS)}")
    _claims_payload(claims)  # bounded before any work
    claims = custodial_claims(principal, typ=typ, claims=claims, now=int(now.timestamp()))
    jws, kid = await sign_as_party(
        session, settings=settings, party_id=principal.party_id, typ=typ, claims=claims
    )
    jti = claims.get("jti")
    await append(
        session,
        "party_key.signed",
        {
            "party_id": principal.party_id,
            "person_id": str(principal.person_id),
            "person_role": principal.person_role,
            "actor": principal.actor,
            "typ": typ,
            "kind": claims.get("kind") if typ == LINK_TYP else None,
            "kid": kid,
            "jti": jti if isinstance(jti, str) else None,
            # SHA-256 of the compact JWS, base64url (docs/design.md, Wire formats): ties the
            # entry to the link.
            "jws_hash": urlsafe_b64encode(hashlib.sha256(jws.encode("ascii")).digest()).decode(),
        },
    )
    return jws, kid
