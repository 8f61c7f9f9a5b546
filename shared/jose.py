"""JOSE helpers: Ed25519 keys, JWKS documents, compact JWS signing and strict verification.

Keys, thumbprints and signing go through joserfc. Verification is written out here on
purpose: Ketenpas's policy (docs/design.md, Wire formats) is narrower than what a general JOSE
library accepts, and every refusal needs a stable reason code. In particular joserfc would
honour RFC 7797 ``b64``, keep the last of two duplicate header members, use whatever
key a header names, and warn on every ``EdDSA`` verification although the design
accepts that name deliberately. Here the header is parsed strictly and judged before
any key is looked up; only an Ed25519 OKP key found by ``kid`` is ever used.

Errors are ``TokenError`` with a stable ``code``; mapping codes to RFC 9457 problem
documents is the web layer's job, not this module's.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import Key, OKPKey
from joserfc.jwk import import_key as _joserfc_import_key
from joserfc.jwk import thumbprint as _rfc7638_thumbprint
from joserfc.util import urlsafe_b64decode, urlsafe_b64encode

from shared import strict_json

__all__ = [
    "ALLOWED_ALGS",
    "DEFAULT_ALLOWED_ALGS",
    "MAX_TOKEN_LENGTH",
    "SIGNING_ALG",
    "TokenError",
    "TokenErrorCode",
    "VerifiedToken",
    "check_times",
    "generate_key",
    "import_key",
    "jwks",
    "peek",
    "public_jwk",
    "sign",
    "thumbprint",
    "verify",
]

TokenErrorCode = Literal[
    "token_malformed",
    "token_header_refused",
    "token_crit_unsupported",
    "token_bad_type",
    "token_alg_refused",
    "token_kid_missing",
    "token_kid_unknown",
    "token_key_unsuitable",
    "token_bad_signature",
    "token_claims_invalid",
    "token_expired",
    "token_not_yet_valid",
    "token_lifetime_too_long",
]

#: The algorithm name every new signature uses (RFC 9864, fully specified).
SIGNING_ALG = "Ed25519"

#: Both names mean Ed25519 on an Ed25519 key; "EdDSA" is the older RFC 8037 name.
DEFAULT_ALLOWED_ALGS: frozenset[str] = frozenset({"Ed25519", "EdDSA"})

#: Per-typ allow-lists. A typ not listed here gets DEFAULT_ALLOWED_ALGS. Entries can only
#: narrow what is accepted: verify() intersects them with the Ed25519 names, so an
#: HMAC name, "none" or any other algorithm added here is still refused.
ALLOWED_ALGS: dict[str, frozenset[str]] = {
    "ketenpas-credential+jwt": DEFAULT_ALLOWED_ALGS,
    "ketenpas-link+jwt": DEFAULT_ALLOWED_ALGS,
    "ketenpas-ack+jwt": DEFAULT_ALLOWED_ALGS,
    "ketenpas-gatepass+jwt": DEFAULT_ALLOWED_ALGS,
    "at+jwt": DEFAULT_ALLOWED_ALGS,
}

#: Our tokens are a few hundred bytes; refusing big input early bounds parsing work.
MAX_TOKEN_LENGTH = 16 * 1024

# Header members that would let a token bring or point at its own key (RFC 8725 §3.10):
# the key always comes from our own resolver, never from the token.
_KEY_CARRYING_MEMBERS = frozenset({"jku", "jwk", "x5u", "x5c"})
# RFC 7797 unencoded payloads change what is signed; we never produce them.
_REFUSED_MEMBERS = _KEY_CARRYING_MEMBERS | {"b64"}
# Extensions this verifier implements and may therefore appear in "crit": none yet.
_UNDERSTOOD_CRIT: frozenset[str] = frozenset()
_ED25519_SIGNATURE_LENGTH = 64


class TokenError(Exception):
    """A token was refused; ``code`` is stable and machine-readable, ``detail`` is for people."""

    def __init__(self, code: TokenErrorCode, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code: TokenErrorCode = code
        self.detail = detail


@dataclass(frozen=True, slots=True)
class VerifiedToken:
    """A token whose header, key and signature passed verify()."""

    header: dict[str, Any]
    claims: dict[str, Any]
    key: OKPKey


# --- keys ------------------------------------------------------------------------------


def generate_key() -> OKPKey:
    """Generate a new Ed25519 private key."""
    return OKPKey.generate_key("Ed25519")


def import_key(jwk: Mapping[str, Any]) -> OKPKey:
    """Import an Ed25519 JWK (public, or private with ``d``); raise ValueError otherwise."""
    if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
        raise ValueError("not an Ed25519 OKP key (kty must be 'OKP', crv 'Ed25519')")
    try:
        key = _joserfc_import_key(dict(jwk), "OKP")
    except (JoseError, ValueError, TypeError) as err:
        raise ValueError(f"invalid Ed25519 JWK: {err}") from err
    # joserfc derives a private key from "d" alone and keeps "x" as given; a JWK whose x
    # does not belong to its d would sign under one identity and advertise another.
    if public_jwk(key)["x"] != jwk.get("x"):
        raise ValueError("invalid Ed25519 JWK: 'x' does not match the private key 'd'")
    return key


def public_jwk(key: OKPKey) -> dict[str, str]:
    """The public JWK of an Ed25519 key: exactly kty, crv and x, never private members."""
    public = _ed25519_public(key)
    if public is None:
        raise ValueError("not an Ed25519 OKP key")
    # Built from the key material itself rather than copied from the stored JWK, so no
    # private or stray member can leak into published documents.
    raw = public.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return {"kty": "OKP", "crv": "Ed25519", "x": urlsafe_b64encode(raw).decode("ascii")}


def thumbprint(jwk: Key | Mapping[str, Any]) -> str:
    """RFC 7638 SHA-256 thumbprint (base64url) of a key or JWK; Ketenpas uses it as ``kid``."""
    if isinstance(jwk, Mapping):
        if jwk.get("kty") == "OKP" and jwk.get("crv") == "Ed25519":
            jwk = import_key(jwk)  # also refuses an x that does not belong to d
        else:
            try:
                jwk = _joserfc_import_key(dict(jwk))
            except (JoseError, ValueError, TypeError) as err:
                raise ValueError(f"invalid JWK: {err}") from err
    if isinstance(jwk, OKPKey) and _ed25519_public(jwk) is not None:
        return _rfc7638_thumbprint(dict(public_jwk(jwk)))
    return jwk.thumbprint()


def jwks(keys: Iterable[OKPKey]) -> dict[str, list[dict[str, str]]]:
    """A JWKS document of the public halves of ``keys``, each with kid, alg and use."""
    entries: list[dict[str, str]] = []
    seen: set[str] = set()
    for key in keys:
        kid = thumbprint(key)
        if kid in seen:  # the same key listed twice during a rotation is harmless
            continue
        seen.add(kid)
        entries.append({**public_jwk(key), "kid": kid, "alg": SIGNING_ALG, "use": "sig"})
    return {"keys": entries}


def _ed25519_public(key: object) -> Ed25519PublicKey | None:
    if not isinstance(key, OKPKey):
        return None
    public = key.public_key
    return public if isinstance(public, Ed25519PublicKey) else None


# --- signing -----------------------------------------------------------------------------


def sign(claims: Mapping[str, Any], key: OKPKey, *, typ: str) -> str:
    """Sign ``claims`` as a compact JWS with header {alg: Ed25519, typ, kid: thumbprint}."""
    if _ed25519_public(key) is None or not key.is_private:
        raise ValueError("signing needs an Ed25519 private key")
    if not typ:
        raise ValueError("typ must be a non-empty string")
    payload = json.dumps(
        dict(claims), separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")
    # Sign only what verify() would read back identically (e.g. {1: .., "1": ..} would
    # serialise to duplicate members, which verify() refuses).
    _loads_object(payload, what="claims")
    header = {"alg": SIGNING_ALG, "typ": typ, "kid": thumbprint(key)}
    return jws.serialize_compact(header, payload, key, algorithms=[SIGNING_ALG])


# --- verification --------------------------------------------------------------------------


def verify(
    token: str,
    *,
    typ: str,
    resolve_key: Callable[[str], Key | None],
    without_kid: Sequence[Key] = (),
) -> VerifiedToken:
    """Verify a compact JWS of type ``typ`` signed by the Ed25519 key ``resolve_key(kid)``.

    A header without ``kid`` is refused, unless ``without_kid`` names the keys to try then
    (RFC 7523 §3 lets a token endpoint find the client's key by ``iss``): the signature
    must verify with one of them. The caller bounds and chooses them; nothing else changes.
    """
    header_segment, payload_segment, signature = _split_compact(token)
    header = _loads_object(_b64decode(header_segment, "header"), what="header")

    refused = sorted(_REFUSED_MEMBERS.intersection(header))
    if refused:
        raise TokenError("token_header_refused", f"header members not accepted: {refused}")
    _check_crit(header)

    if header.get("typ") != typ:
        raise TokenError("token_bad_type", f"expected typ {typ!r}")

    alg = header.get("alg")
    allowed = ALLOWED_ALGS.get(typ, DEFAULT_ALLOWED_ALGS) & DEFAULT_ALLOWED_ALGS
    if not isinstance(alg, str) or alg not in allowed:
        raise TokenError("token_alg_refused", f"alg {_short(alg)} is not allowed for {typ!r}")

    kid = header.get("kid")
    if kid is None or kid == "":
        if not without_kid:
            raise TokenError("token_kid_missing", "header has no kid")
        candidates = [_check_key(key, thumbprint(key)) for key in without_kid]
    elif not isinstance(kid, str):
        raise TokenError("token_malformed", "kid must be a string")
    else:
        found = resolve_key(kid)
        if found is None:
            raise TokenError("token_kid_unknown", "no key is known for this kid")
        candidates = [_check_key(found, kid)]

    if len(signature) != _ED25519_SIGNATURE_LENGTH:
        raise TokenError("token_bad_signature", "signature has the wrong length")
    key = _signer(candidates, signature, f"{header_segment}.{payload_segment}".encode("ascii"))

    claims = _loads_object(_b64decode(payload_segment, "payload"), what="claims")
    return VerifiedToken(header=header, claims=claims, key=key)


def _signer(
    candidates: Sequence[tuple[OKPKey, Ed25519PublicKey]], signature: bytes, signing_input: bytes
) -> OKPKey:
    for key, public in candidates:
        try:
            public.verify(signature, signing_input)
        except InvalidSignature:
            continue
        return key
    raise TokenError("token_bad_signature", "signature does not verify")


def peek(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Header and claims of a compact JWS WITHOUT checking anything: only to find which key
    to load (kid, iss) before `verify`; never trust what it returns."""
    header_segment, payload_segment, _ = split_compact(token)
    return parse_segment(header_segment, "header"), parse_segment(payload_segment, "claims")


def parse_segment(segment: str, what: str) -> dict[str, Any]:
    """A header or payload segment as `peek` and `verify` read it: canonical base64url of a
    JSON object without duplicate members (TokenError otherwise)."""
    return _loads_object(_b64decode(segment, what), what=what)


def split_compact(token: object) -> tuple[str, str, bytes]:
    """(header segment, payload segment, signature) of a compact JWS, strictly: a string of
    ASCII within the size bound, three parts, canonical base64url (TokenError otherwise)."""
    return _split_compact(token)


def _split_compact(token: object) -> tuple[str, str, bytes]:
    if not isinstance(token, str):
        raise TokenError("token_malformed", "token must be a string")
    if len(token) > MAX_TOKEN_LENGTH:
        raise TokenError("token_malformed", "token is too long")
    if not token.isascii():
        raise TokenError("token_malformed", "token must be ASCII")
    parts = token.split(".")
    if len(parts) != 3:
        raise TokenError("token_malformed", "a compact JWS has exactly three parts")
    header_segment, payload_segment, signature_segment = parts
    if not header_segment or not payload_segment:
        raise TokenError("token_malformed", "empty header or payload (detached content refused)")
    signature = _b64decode(signature_segment, "signature")
    return header_segment, payload_segment, signature


def _b64decode(segment: str, what: str) -> bytes:
    # joserfc's decoder refuses padding, '+', '/' and non-canonical trailing bits, so
    # each token has one spelling and hashes of compact tokens (docs/design.md, Wire formats) are
    # unambiguous.
    try:
        return urlsafe_b64decode(segment.encode("ascii"))
    except ValueError:
        raise TokenError("token_malformed", f"{what} is not canonical base64url") from None


def _loads_object(data: bytes, *, what: str) -> dict[str, Any]:
    try:
        value = strict_json.loads(data.decode("utf-8"))
    except (ValueError, RecursionError):
        raise TokenError("token_malformed", f"{what} is not valid JSON") from None
    if not isinstance(value, dict):
        raise TokenError("token_malformed", f"{what} must be a JSON object")
    return value


def _check_crit(header: Mapping[str, Any]) -> None:
    if "crit" not in header:
        return
    crit = header["crit"]
    if not isinstance(crit, list) or not crit or not all(isinstance(n, str) for n in crit):
        raise TokenError("token_malformed", "crit must be a non-empty list of names")
    unknown = sorted(set(crit) - _UNDERSTOOD_CRIT)
    if unknown:
        raise TokenError("token_crit_unsupported", f"critical extensions not supported: {unknown}")
    missing = sorted(set(crit) - set(header))
    if missing:
        raise TokenError("token_malformed", f"crit names absent members: {missing}")


def _check_key(key: Key, kid: str) -> tuple[OKPKey, Ed25519PublicKey]:
    """The key and its Ed25519 public half, if it may verify a signature under ``kid``."""
    public = _ed25519_public(key)
    if public is None or not isinstance(key, OKPKey):
        raise TokenError("token_key_unsuitable", "the key for this kid is not an Ed25519 OKP key")
    if key.get("use") not in (None, "sig"):
        raise TokenError("token_key_unsuitable", "the key for this kid is not a signing key")
    key_ops = key.get("key_ops")
    if key_ops is not None and "verify" not in key_ops:
        raise TokenError("token_key_unsuitable", "the key for this kid may not verify")
    if key.get("alg") not in (None, *DEFAULT_ALLOWED_ALGS):
        raise TokenError("token_key_unsuitable", "the key for this kid is bound to another alg")
    # kid is the key's thumbprint by contract (docs/design.md, Domain); a resolver handing back some
    # other key is a bug that must not turn into a valid signature under a wrong name.
    if thumbprint(key) != kid:
        raise TokenError("token_key_unsuitable", "the resolved key does not match the kid")
    return key, public


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


# --- time claims ----------------------------------------------------------------------------


def check_times(
    claims: Mapping[str, Any],
    now: float,
    *,
    leeway: float = 30,
    max_lifetime: float | None = None,
    require_exp: bool = True,
) -> None:
    """Check exp, nbf and iat (NumericDate seconds) against ``now`` with ``leeway`` seconds."""
    exp = _numeric_date(claims, "exp", required=require_exp)
    nbf = _numeric_date(claims, "nbf", required=False)
    iat = _numeric_date(claims, "iat", required=max_lifetime is not None)

    if exp is not None and now >= exp + leeway:
        raise TokenError("token_expired", "the token has expired")
    if nbf is not None and now + leeway < nbf:
        raise TokenError("token_not_yet_valid", "the token is not valid yet (nbf)")
    # A token issued in the future is a clock problem or a forgery, and would also let
    # an issuer stretch max_lifetime.
    if iat is not None and now + leeway < iat:
        raise TokenError("token_not_yet_valid", "the token was issued in the future (iat)")
    if max_lifetime is not None:
        if exp is None or iat is None:  # iat is required above whenever max_lifetime is given
            raise TokenError("token_claims_invalid", "exp is required to bound the lifetime")
        if exp - iat > max_lifetime:
            raise TokenError(
                "token_lifetime_too_long", f"exp is more than {max_lifetime:g} s after iat"
            )


def _numeric_date(claims: Mapping[str, Any], name: str, *, required: bool) -> float | None:
    value = claims.get(name)
    if value is None:
        if required:
            raise TokenError("token_claims_invalid", f"{name} is required")
        return None
    # bool is an int in Python but never a NumericDate; JSON like 1e999 parses to inf and
    # a long integer literal does not fit a float at all.
    if not isinstance(value, bool) and isinstance(value, int | float):
        try:
            seconds = float(value)
        except OverflowError:
            seconds = math.inf
        if math.isfinite(seconds):
            return seconds
    raise TokenError("token_claims_invalid", f"{name} must be a NumericDate (seconds)")
