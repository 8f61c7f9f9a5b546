"""Credentials and the Token Status Lists that say whether they still stand (no database).

Both services use this module: the identity service issues what it describes, the release
service checks the credentials that bind parties to keys.

**Status List Token**: a JWS with ``typ: statuslist+jwt``; claims ``sub`` (the list's
URI), ``iat``, ``exp``, ``ttl`` and ``status_list: {bits, lst}``, plus ``iss``. This
profile requires ``exp`` and ``iss``: a verifier must know when a list it holds stops
counting (the release service fails closed past it) and whose list it is. The list's own
encoding is `shared.status_list`. Lists are decoded once per fetch
(`decode_status_list_token`) and kept unpacked, one byte per entry, so a status check is
an index into ``bytes``.

**Credentials** (``ketenpas-credential+jwt``) say that a party holds a key (``cnf.jwk``)
with roles, until ``exp``, unless its status list entry says revoked or suspended.
`verify_credential` checks one whole; `read_credential` checks what never changes
(signature, type, issuer, form) for a verifier that judges the credential later against
many moments with `check_credential`.

**Speed.** Credentials are checked on the gate's hot path. Both verifiers go through the
app's `shared.verifier_cache.VerifierCache`: after the first sight of a header with a key
object, a credential costs one Ed25519 verification; what a verified payload says (claim
types, the holder's key, imported once per JWK) is read once and remembered under its
text; the checks that depend on the caller (issuer, time, status) run on every call.
"""

from __future__ import annotations

import base64
import hashlib
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from joserfc.jwk import Key, OKPKey

from shared import jose
from shared.status_list import (
    MAX_STATUS_LIST_BYTES,
    STATUS_LIST_TYP,
    StatusListError,
    StatusValue,
    check_bits,
    decode_lst,
    unpack,
)
from shared.verifier_cache import VerifierCache

__all__ = [
    "CREDENTIAL_TYP",
    "LEEWAY",
    "CredentialError",
    "CredentialErrorCode",
    "StatusListView",
    "VerifiedCredential",
    "check_credential",
    "decode_status_list_token",
    "read_credential",
    "token_sha256",
    "verify_credential",
]

CREDENTIAL_TYP: Final = "ketenpas-credential+jwt"

#: Clock skew allowed on every time claim (docs/design.md, Wire formats).
LEEWAY: Final = 30


CredentialErrorCode = Literal[
    jose.TokenErrorCode,
    "token_wrong_issuer",
    "credential_claims_invalid",
    "credential_expired",
    "credential_not_yet_valid",
    "credential_revoked",
    "credential_suspended",
    "credential_status_unknown",
    "status_list_unknown",
    "status_list_expired",
    "status_index_out_of_range",
    "status_list_malformed",
    "status_list_too_large",
]


class CredentialError(Exception):
    """A credential or status list token was refused; ``code`` is stable, as in TokenError."""

    def __init__(self, code: CredentialErrorCode, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code: CredentialErrorCode = code
        self.detail = detail


# --- Status List Tokens ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StatusListView:
    """A verified Status List Token, unpacked: ``statuses[idx]`` is the status of idx."""

    uri: str
    issuer: str
    bits: int
    statuses: bytes
    issued_at: float
    expires_at: float
    ttl: int | None
    # The compact JWS it was read from, byte for byte: what an evidence bundle carries to
    # show which list a decision was judged with.
    token: str = field(default="", repr=False)

    @property
    def size(self) -> int:
        """How many entries the list holds (padding of the last byte included)."""
        return len(self.statuses)

    def status(self, idx: int) -> int:
        """The status value at ``idx``; CredentialError when out of range."""
        if idx < 0 or idx >= len(self.statuses):
            raise CredentialError("status_index_out_of_range", "the index is outside the list")
        return self.statuses[idx]


def token_sha256(token: str) -> str:
    """SHA-256 of a token's text, base64url without padding: how a decision names a list."""
    return base64.urlsafe_b64encode(hashlib.sha256(token.encode()).digest()).decode().rstrip("=")


def decode_status_list_token(
    token: str,
    *,
    resolve_key: Callable[[str], Key | None],
    issuer: str,
    now: float,
    max_bytes: int = MAX_STATUS_LIST_BYTES,
) -> StatusListView:
    """Verify a ``statuslist+jwt`` (type, signature, issuer, times) and unpack its list."""
    try:
        claims = jose.verify(token, typ=STATUS_LIST_TYP, resolve_key=resolve_key).claims
        jose.check_times(claims, now, leeway=LEEWAY, require_exp=True)
    except jose.TokenError as exc:
        raise CredentialError(exc.code, exc.detail) from exc
    if claims.get("iss") != issuer:
        raise CredentialError("token_wrong_issuer", "the status list was issued by someone else")
    uri = claims.get("sub")
    iat = claims.get("iat")
    ttl = claims.get("ttl")
    status_list = claims.get("status_list")
    if not isinstance(uri, str) or not uri:
        raise CredentialError("status_list_malformed", "sub must be the list's URI")
    if not _is_number(iat):
        raise CredentialError("status_list_malformed", "iat is required")
    if ttl is not None and not (_is_int(ttl) and ttl > 0):
        raise CredentialError("status_list_malformed", "ttl must be a positive integer")
    if not isinstance(status_list, dict):
        raise CredentialError("status_list_malformed", "status_list must be an object")
    try:
        bits = check_bits(status_list.get("bits"))
        packed = decode_lst(status_list.get("lst"), max_bytes=max_bytes)
    except StatusListError as exc:
        raise CredentialError(exc.code, exc.detail) from exc
    return StatusListView(
        uri=uri,
        issuer=issuer,
        bits=bits,
        statuses=unpack(packed, bits),
        issued_at=float(claims["iat"]),
        expires_at=float(claims["exp"]),
        ttl=ttl,
        token=token,
    )


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


# --- credentials -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class VerifiedCredential:
    """What a valid credential says: this party holds this key, with these roles."""

    credential_id: str
    party_id: str
    roles: frozenset[str]
    key: OKPKey
    kid: str
    iat: float
    nbf: float
    exp: float
    status: StatusValue
    status_uri: str
    status_idx: int


@dataclass(frozen=True, slots=True)
class _Reading:
    """What a credential's payload says, apart from the checks that depend on the caller."""

    issuer: object
    iat: float
    nbf: float
    exp: float
    uri: str
    idx: int
    result: VerifiedCredential  # handed out as is once time, issuer and status pass


_READING: Final = "credential"  # the kind of reading in VerifierCache.readings

_REFUSALS: dict[int, tuple[CredentialErrorCode, str]] = {
    StatusValue.INVALID: ("credential_revoked", "the credential has been revoked"),
    StatusValue.SUSPENDED: ("credential_suspended", "the credential is suspended"),
}


def verify_credential(
    token: str,
    *,
    cache: VerifierCache,
    resolve_key: Callable[[str], Key | None],
    issuer: str,
    status_lists: Mapping[str, StatusListView],
    now: float,
) -> VerifiedCredential:
    """Verify a ``ketenpas-credential+jwt`` and its status; CredentialError when refused."""
    credential = read_credential(token, cache=cache, resolve_key=resolve_key, issuer=issuer)
    check_credential(credential, at=now, status_lists=status_lists, now=now, issuer=issuer)
    return credential


def read_credential(
    token: str, *, cache: VerifierCache, resolve_key: Callable[[str], Key | None], issuer: str
) -> VerifiedCredential:
    """Verify a credential's signature, type, issuer and form, but not its time or status.

    For a verifier that fetches a party's credentials once and then judges them against
    many moments (a chain link's `iat`) with `check_credential`.
    """
    try:
        claims = cache.verify(token, typ=CREDENTIAL_TYP, resolve_key=resolve_key)
    except jose.TokenError as exc:
        raise CredentialError(exc.code, exc.detail) from exc
    # The signature has verified: the payload is the issuer's own text, and what it says
    # can be looked up by that text.
    payload_segment = token.split(".")[1]
    reading: _Reading | None = cache.readings.get((_READING, payload_segment))
    if reading is None:
        if claims is None:  # the remembered path parsed nothing: parse as strictly as jose
            try:
                _, claims = jose.peek(token)
            except jose.TokenError as exc:
                raise CredentialError(exc.code, exc.detail) from exc
        reading = cache.readings.put((_READING, payload_segment), _read(claims, cache))
    if reading.issuer != issuer:
        raise CredentialError("token_wrong_issuer", "the credential was issued by someone else")
    return reading.result


def check_credential(
    credential: VerifiedCredential,
    *,
    at: float,
    status_lists: Mapping[str, StatusListView],
    now: float,
    issuer: str | None = None,
) -> None:
    """Was the credential valid at `at`, and is it neither revoked nor suspended `now`?

    CredentialError when not. The status list must be held (from `issuer`, when given) and
    unexpired at `now`.
    """
    # The token's own validity comes before its status (draft-ietf-oauth-status-list).
    if at >= credential.exp + LEEWAY:
        raise CredentialError("credential_expired", "the credential has expired")
    if at + LEEWAY < credential.nbf or at + LEEWAY < credential.iat:
        raise CredentialError("credential_not_yet_valid", "the credential is not valid yet")
    view = status_lists.get(credential.status_uri)
    if (
        view is None
        or view.uri != credential.status_uri
        or (issuer is not None and view.issuer != issuer)
    ):
        raise CredentialError("status_list_unknown", "no verified status list for this credential")
    if now >= view.expires_at + LEEWAY:
        raise CredentialError("status_list_expired", "the status list held is too old")
    status = view.status(credential.status_idx)
    if status != StatusValue.VALID:
        raise CredentialError(
            *_REFUSALS.get(
                status, ("credential_status_unknown", f"status 0x{status:02x} is not understood")
            )
        )


def _time(claims: Mapping[str, Any], name: str, default: object = None) -> float:
    value = claims.get(name, default)
    if _is_number(value):
        try:
            seconds = float(value)
        except OverflowError:  # an integer beyond any float
            seconds = math.inf
        if math.isfinite(seconds):
            return seconds
    raise CredentialError("credential_claims_invalid", f"{name} must be a NumericDate")


def _read(claims: Mapping[str, Any], cache: VerifierCache) -> _Reading:
    """Check the claims' form once; the caller remembers it under the payload's text."""
    try:
        party_id = claims["sub"]
        credential_id = claims["jti"]
        roles = claims["roles"]
        jwk = claims["cnf"]["jwk"]
        reference = claims["status"]["status_list"]
        idx = reference["idx"]
        uri = reference["uri"]
    except (KeyError, TypeError):
        raise CredentialError(
            "credential_claims_invalid", "the credential lacks required claims"
        ) from None
    if not (
        isinstance(party_id, str)
        and isinstance(credential_id, str)
        and isinstance(roles, list)
        and all(isinstance(role, str) for role in roles)
        and isinstance(jwk, dict)
        and isinstance(uri, str)
        and _is_int(idx)
    ):
        raise CredentialError("credential_claims_invalid", "a claim has the wrong type")
    iat = _time(claims, "iat")
    nbf = _time(claims, "nbf", iat)
    exp = _time(claims, "exp")
    kid, key = _holder_key(jwk, cache)
    reading = _Reading(
        issuer=claims.get("iss"),
        iat=iat,
        nbf=nbf,
        exp=exp,
        uri=uri,
        idx=idx,
        result=VerifiedCredential(
            credential_id=credential_id,
            party_id=party_id,
            roles=frozenset(roles),
            key=key,
            kid=kid,
            iat=iat,
            nbf=nbf,
            exp=exp,
            status=StatusValue.VALID,
            status_uri=uri,
            status_idx=idx,
        ),
    )
    return reading


def _holder_key(jwk: dict[str, Any], cache: VerifierCache) -> tuple[str, OKPKey]:
    """The confirmation key (RFC 7800 ``cnf.jwk``), judged and imported once per JWK: the
    same JWK gives the same key object, so that the cache's header judgements hit."""
    kid, x = jwk.get("kid"), jwk.get("x")
    if not isinstance(kid, str) or not isinstance(x, str):
        raise CredentialError("credential_claims_invalid", "cnf.jwk needs kid and x")
    known = cache.holder_key(jwk)
    if known is not None:
        return kid, known
    if "d" in jwk:
        raise CredentialError("credential_claims_invalid", "cnf.jwk must be a public key")
    if any(isinstance(value, dict | list) for value in jwk.values()):
        raise CredentialError("credential_claims_invalid", "cnf.jwk is malformed")
    try:
        key = jose.import_key({"kty": jwk.get("kty"), "crv": jwk.get("crv"), "x": x})
    except ValueError:
        raise CredentialError(
            "credential_claims_invalid", "cnf.jwk is not an Ed25519 key"
        ) from None
    if jose.thumbprint(key) != kid:
        raise CredentialError(
            "credential_claims_invalid", "cnf.jwk kid is not the key's thumbprint"
        )
    return kid, cache.remember_holder_key(jwk, key)
