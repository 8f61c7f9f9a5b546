"""Party keys: own public keys, custodial keys sealed at rest, rotation, custodial signing.

A custodial private key is sealed (AES-GCM under the key-encryption key, bound to
`party_keys:<kid>`) the moment it is made, opened only to sign, and its sealed copy is
erased when the key retires: a retired key can then sign nothing, by construction, while
its public half stays served so that what it signed keeps verifying.
"""

import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import structlog
from joserfc.jwk import OKPKey
from joserfc.util import urlsafe_b64decode, urlsafe_b64encode
from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from services.identity.keys import repository
from services.identity.keys.models import KeyStatus, PartyKey
from services.identity.parties import repository as parties
from services.identity.parties.models import Party, PartyStatus
from services.identity.parties.service import party_not_found
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


def bound_to(kid: str) -> str:
    """The row name a custodial key is sealed for (associated data of the AES-GCM seal)."""
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


async def _add(session: AsyncSession, key: PartyKey, *, actor: str) -> PartyKey:
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
    await append(
        session,
        "party_key.created" if key.custodial else "party_key.registered",
        {"party_id": key.party_id, "kid": key.kid, "custodial": key.custodial, "actor": actor},
    )
    return key


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
            settings.kek_bytes(), private.as_pem(private=True), bound_to=bound_to(kid)
        ),
        created_at=now,
    )


async def _retire(
    session: AsyncSession, key: PartyKey, *, actor: str, now: datetime, reason: str
) -> PartyKey:
    key.status = KeyStatus.retired
    key.retired_at = now
    key.sealed_private = None  # a retired key signs nothing new: its private half is erased
    session.add(key)
    await append(
        session,
        "party_key.retired",
        {
            "party_id": key.party_id,
            "kid": key.kid,
            "custodial": key.custodial,
            "reason": reason,
            "actor": actor,
        },
    )
    return key


async def register_key(
    session: AsyncSession, *, party_id: str, jwk: Mapping[str, Any], actor: str, now: datetime
) -> PartyKey:
    """Register a party's own Ed25519 public key (kid: its RFC 7638 thumbprint)."""
    await _lock_party_for_keys(session, party_id)
    return await _add(session, _own_key(party_id, jwk, now), actor=actor)


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
    session: AsyncSession, *, party_id: str, kid: str, actor: str, now: datetime
) -> PartyKey:
    """Retire a key: it signs nothing new; what it signed keeps verifying."""
    await _lock_party_for_keys(session, party_id)
    key = await repository.get(session, kid)
    if key is None or key.party_id != party_id:
        raise key_not_found()
    if key.status == KeyStatus.retired:
        raise Conflict("key_retired", "the key is already retired")
    return await _retire(session, key, actor=actor, now=now, reason="retired")


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
        await _retire(session, old, actor=actor, now=now, reason=f"rotated to {new.kid}")
        for old in previous
    ]
    return new, retired


async def list_keys(session: AsyncSession, *, party_id: str) -> list[PartyKey]:
    """Every key of an existing party, oldest first, retired ones included."""
    if await parties.get(session, party_id) is None:
        raise party_not_found()
    return list(await repository.of_party(session, party_id))


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
    try:
        pem = unseal(settings.kek_bytes(), bytes(row.sealed_private), bound_to=bound_to(row.kid))
    except SealError:
        # Wrong key-encryption key or a tampered row: an operator's problem, not the caller's.
        logger.error("custodial_key_unseal_failed", party_id=party_id, kid=row.kid)
        raise Problem(
            "custodial_key_unusable", "the party's custodial key cannot be used", status=500
        ) from None
    private = OKPKey.import_key(pem)
    try:
        jws = jose.sign(claims, private, typ=typ)
    except (ValueError, jose.TokenError):
        raise InvalidInput("invalid_claims", "claims must be plain JSON") from None
    return jws, row.kid


async def sign_for_person(
    session: AsyncSession,
    *,
    settings: IdentitySettings,
    principal: Principal,
    typ: str,
    claims: Mapping[str, Any],
) -> tuple[str, str]:
    """Sign for a signed-in person with his party's custodial key; the audit names him."""
    if principal.person_id is None:
        raise Forbidden("person_required", "custodial signing is for a signed-in person")
    if typ == LINK_TYP and claims.get("from") != principal.party_id:
        # A link is signed by the party that holds the right; a person signs only for his own.
        raise InvalidInput("claims_from_mismatch", "a link's `from` must be your party's id")
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
            "actor": principal.actor,
            "typ": typ,
            "kid": kid,
            "jti": jti if isinstance(jti, str) else None,
            # SHA-256 of the compact JWS, base64url (DESIGN §5): ties the entry to the link.
            "jws_hash": urlsafe_b64encode(hashlib.sha256(jws.encode("ascii")).digest()).decode(),
        },
    )
    return jws, kid
