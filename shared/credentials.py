"""Credentials and IETF Token Status Lists, the verifier's side (no database).

Both services use this module: the identity service to encode the status lists it
publishes, the release service to check the credentials that bind parties to keys.

**Status List encoding** (draft-ietf-oauth-status-list, "Status List"): each entry takes
``bits`` bits (1, 2, 4 or 8); entries fill each byte from its least significant bit up
(entry ``i`` of a 2-bit list sits in byte ``i // 4`` at bit ``2 * (i % 4)``); the byte
array is compressed with DEFLATE in the ZLIB format (RFC 1950) and written as base64url
without padding (``lst``). Decoding is strict: canonical base64url only, a ZLIB stream
(not raw DEFLATE, not gzip, no preset dictionary) that ends exactly where the data
ends, and a cap on the decompressed size so that a few kilobytes cannot expand into
gigabytes (a "zip bomb"). Hand-written because the draft's codec is a few lines and no
maintained Python library implements it with these refusals; pack/unpack use
``bytes.translate`` and big-integer arithmetic so a 65,536-entry list takes well under a
millisecond.

**Status List Token**: a JWS with ``typ: statuslist+jwt``; claims ``sub`` (the list's
URI), ``iat``, ``exp``, ``ttl`` and ``status_list: {bits, lst}``, plus ``iss``. This
profile requires ``exp`` and ``iss``: a verifier must know when a list it holds stops
counting (the release service fails closed past it) and whose list it is.

**Credential verification** is on the gate's hot path, so after the first sight of a
credential `verify_credential` costs one Ed25519 verification and a few dictionary
look-ups. A header segment is judged by `shared.jose.verify` (every header rule, the
key's suitability and the signature) the first time it is seen with a given key object,
and remembered; later tokens with the same header and the same resolved key object go
straight to the signature. Once the signature has verified, the payload is the issuer's
own text, so what it says (claim types, the holder's key) is read once and remembered
under that text; the checks that depend on the caller — issuer, time, status — run on
every call. Status lists are decoded once per fetch (`decode_status_list_token`) and
kept unpacked, one byte per entry, so a status check is an index into ``bytes``. The
memo tables are bounded: an attacker can make us forget, never remember without end.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, Final, Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from joserfc.jwk import Key, OKPKey
from joserfc.util import urlsafe_b64decode, urlsafe_b64encode

from shared import jose

__all__ = [
    "ALLOWED_BITS",
    "CREDENTIAL_TYP",
    "MAX_STATUS_LIST_BYTES",
    "STATUS_LIST_MEDIA_TYPE",
    "STATUS_LIST_TYP",
    "CredentialError",
    "CredentialErrorCode",
    "StatusListError",
    "StatusListView",
    "StatusValue",
    "VerifiedCredential",
    "check_credential",
    "decode_lst",
    "decode_status_list_token",
    "encode_lst",
    "pack",
    "read_credential",
    "unpack",
    "verify_credential",
]

CREDENTIAL_TYP: Final = "ketenpas-credential+jwt"
STATUS_LIST_TYP: Final = "statuslist+jwt"
STATUS_LIST_MEDIA_TYPE: Final = "application/statuslist+jwt"

ALLOWED_BITS: Final = (1, 2, 4, 8)

#: The most a decoded status list may take, packed: 1 MiB is 4 Mi entries at 2 bits,
#: far beyond any list this project issues, yet small enough to bound the work.
MAX_STATUS_LIST_BYTES: Final = 1 << 20

#: Clock skew allowed on every time claim (docs/design.md, Wire formats).
LEEWAY: Final = 30


class StatusValue(IntEnum):
    """Status Types of draft-ietf-oauth-status-list."""

    VALID = 0x00
    INVALID = 0x01
    SUSPENDED = 0x02


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

StatusListErrorCode = Literal["status_list_malformed", "status_list_too_large"]


class StatusListError(ValueError):
    """An ``lst`` or a packed list was refused; ``code`` is stable."""

    def __init__(self, code: StatusListErrorCode, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code: StatusListErrorCode = code
        self.detail = detail


class CredentialError(Exception):
    """A credential or status list token was refused; ``code`` is stable, as in TokenError."""

    def __init__(self, code: CredentialErrorCode, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code: CredentialErrorCode = code
        self.detail = detail


# --- the Status List codec ------------------------------------------------------------------


def _check_bits(bits: object) -> int:
    if isinstance(bits, bool) or not isinstance(bits, int) or bits not in ALLOWED_BITS:
        raise StatusListError("status_list_malformed", f"bits must be one of {ALLOWED_BITS}")
    return bits


def _field_tables(bits: int) -> list[bytes]:
    """For each position j in a byte, a table mapping a byte to its j-th field's value."""
    mask = (1 << bits) - 1
    return [bytes((value >> (bits * j)) & mask for value in range(256)) for j in range(8 // bits)]


def _shift_tables(bits: int) -> list[bytes]:
    """For each position j in a byte, a table mapping a field value to its shifted bits."""
    return [bytes(((value << (bits * j)) & 0xFF) for value in range(256)) for j in range(8 // bits)]


_FIELDS = {bits: _field_tables(bits) for bits in ALLOWED_BITS}
_SHIFTS = {bits: _shift_tables(bits) for bits in ALLOWED_BITS}


def pack(statuses: bytes, bits: int) -> bytes:
    """Pack one status value per byte into the draft's byte array (LSB first)."""
    _check_bits(bits)
    if statuses and max(statuses) >= 1 << bits:
        raise StatusListError("status_list_malformed", f"a status does not fit in {bits} bits")
    per_byte = 8 // bits
    if per_byte == 1:
        return bytes(statuses)
    padded = bytes(statuses) + bytes(-len(statuses) % per_byte)
    # The fields of one byte never overlap, so OR-ing the shifted fields of every
    # position is plain addition; Python's big integers do it in C.
    total = 0
    for j, table in enumerate(_SHIFTS[bits]):
        total |= int.from_bytes(padded[j::per_byte].translate(table), "little")
    return total.to_bytes(len(padded) // per_byte, "little")


def unpack(packed: bytes, bits: int) -> bytes:
    """Unpack the draft's byte array into one status value per byte (8 // bits per byte)."""
    _check_bits(bits)
    per_byte = 8 // bits
    if per_byte == 1:
        return bytes(packed)
    out = bytearray(len(packed) * per_byte)
    for j, table in enumerate(_FIELDS[bits]):
        out[j::per_byte] = packed.translate(table)
    return bytes(out)


def encode_lst(packed: bytes) -> str:
    """ZLIB-compress (highest level, as the draft recommends) and base64url-encode."""
    return urlsafe_b64encode(zlib.compress(packed, 9)).decode("ascii")


def decode_lst(lst: object, *, max_bytes: int = MAX_STATUS_LIST_BYTES) -> bytes:
    """The packed byte array of an ``lst``; refuses bad base64url or ZLIB, and big output."""
    if not isinstance(lst, str) or not lst:
        raise StatusListError("status_list_malformed", "lst must be a non-empty string")
    # DEFLATE grows incompressible data by only a few bytes per 64 KiB and base64 adds a
    # third, so a longer lst cannot hold an allowed list: refused before any work.
    if len(lst) > (max_bytes // 3 + 64) * 4 + 64:
        raise StatusListError("status_list_too_large", "lst is longer than any allowed list")
    if not lst.isascii():
        raise StatusListError("status_list_malformed", "lst is not canonical base64url")
    try:
        compressed = urlsafe_b64decode(lst.encode("ascii"))
    except (ValueError, binascii.Error):
        raise StatusListError("status_list_malformed", "lst is not canonical base64url") from None
    # wbits=15: exactly the ZLIB format (RFC 1950), neither raw DEFLATE nor gzip.
    inflater = zlib.decompressobj(wbits=15)
    try:
        packed = inflater.decompress(compressed, max_bytes + 1)
    except zlib.error:
        raise StatusListError("status_list_malformed", "lst is not a ZLIB stream") from None
    if len(packed) > max_bytes or (inflater.unconsumed_tail and not inflater.eof):
        raise StatusListError("status_list_too_large", f"the list expands beyond {max_bytes} bytes")
    if not inflater.eof:
        raise StatusListError("status_list_malformed", "the ZLIB stream is truncated")
    if inflater.unused_data:
        raise StatusListError("status_list_malformed", "data follows the ZLIB stream")
    if not packed:
        raise StatusListError("status_list_malformed", "the list is empty")
    return packed


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

    @property
    def size(self) -> int:
        """How many entries the list holds (padding of the last byte included)."""
        return len(self.statuses)

    def status(self, idx: int) -> int:
        """The status value at ``idx``; CredentialError when out of range."""
        if idx < 0 or idx >= len(self.statuses):
            raise CredentialError("status_index_out_of_range", "the index is outside the list")
        return self.statuses[idx]


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
        bits = _check_bits(status_list.get("bits"))
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
class _JudgedHeader:
    kid: str
    key: Key
    public: Ed25519PublicKey


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


# Bounded memo tables: a few service keys, a few hundred parties and their credentials in
# practice; an attacker can only make us forget (and redo the work), never remember more.
_MEMO_LIMIT = 4096
_judged_headers: dict[str, _JudgedHeader] = {}
_readings: dict[str, _Reading] = {}
_holder_keys: dict[frozenset[tuple[str, Any]], tuple[str, OKPKey]] = {}

_CANONICAL_SIGNATURE_ENDINGS = frozenset("AQgw")  # 64 bytes: the last character holds 2 bits
# URL-safe to standard base64 (a bytes table: str.translate would cost more than the
# rest of the check); "+" and "/" themselves become "!", which strict decoding refuses.
_TO_STANDARD_ALPHABET = bytes.maketrans(b"-_+/", b"+/!!")

_REFUSALS: dict[int, tuple[CredentialErrorCode, str]] = {
    StatusValue.INVALID: ("credential_revoked", "the credential has been revoked"),
    StatusValue.SUSPENDED: ("credential_suspended", "the credential is suspended"),
}


def _remember(table: dict[str, Any], key: str, value: Any) -> None:
    if len(table) >= _MEMO_LIMIT:
        table.clear()
    table[key] = value


def verify_credential(
    token: str,
    *,
    resolve_key: Callable[[str], Key | None],
    issuer: str,
    status_lists: Mapping[str, StatusListView],
    now: float,
) -> VerifiedCredential:
    """Verify a ``ketenpas-credential+jwt`` and its status; CredentialError when refused."""
    if not isinstance(token, str) or len(token) > jose.MAX_TOKEN_LENGTH or token.count(".") != 2:
        raise CredentialError("token_malformed", "a compact JWS has exactly three parts")
    signing_input, _, signature_segment = token.rpartition(".")
    header_segment, _, payload_segment = signing_input.partition(".")

    judged = _judged_headers.get(header_segment)
    key = resolve_key(judged.kid) if judged is not None else None
    if judged is None or key is None or key is not judged.key:
        claims = _verify_first_sight(token, header_segment, resolve_key)
        reading = _readings.get(payload_segment) or _read(payload_segment, claims)
    else:
        signature = _signature_bytes(signature_segment)
        try:
            judged.public.verify(signature, signing_input.encode("ascii"))
        except (InvalidSignature, UnicodeEncodeError):
            raise CredentialError("token_bad_signature", "signature does not verify") from None
        # The payload is authentic from here on: what it says can be looked up by its text.
        reading = _readings.get(payload_segment) or _read(
            payload_segment, _trusted_claims(payload_segment)
        )

    if reading.issuer != issuer:
        raise CredentialError("token_wrong_issuer", "the credential was issued by someone else")
    check_credential(reading.result, at=now, status_lists=status_lists, now=now, issuer=issuer)
    return reading.result


def read_credential(
    token: str, *, resolve_key: Callable[[str], Key | None], issuer: str
) -> VerifiedCredential:
    """Verify a credential's signature, type, issuer and form, but not its time or status.

    For a verifier that fetches a party's credentials once and then judges them against
    many moments (a chain link's `iat`) with `check_credential`.
    """
    try:
        verified = jose.verify(token, typ=CREDENTIAL_TYP, resolve_key=resolve_key)
    except jose.TokenError as exc:
        raise CredentialError(exc.code, exc.detail) from exc
    payload_segment = token.split(".")[1]
    reading = _readings.get(payload_segment) or _read(payload_segment, verified.claims)
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


def _verify_first_sight(
    token: str, header_segment: str, resolve_key: Callable[[str], Key | None]
) -> dict[str, Any]:
    """The full check of shared.jose; on success the header and key are remembered."""
    try:
        verified = jose.verify(token, typ=CREDENTIAL_TYP, resolve_key=resolve_key)
    except jose.TokenError as exc:
        raise CredentialError(exc.code, exc.detail) from exc
    public = verified.key.public_key
    assert isinstance(public, Ed25519PublicKey)  # jose.verify accepts nothing else
    _remember(
        _judged_headers,
        header_segment,
        _JudgedHeader(kid=verified.header["kid"], key=verified.key, public=public),
    )
    return verified.claims


def _signature_bytes(segment: str) -> bytes:
    # Strict, as in shared.jose: 86 characters of the URL-safe alphabet whose unused low
    # bits are zero, so that one signature has exactly one spelling.
    if len(segment) != 86 or segment[-1] not in _CANONICAL_SIGNATURE_ENDINGS:
        raise CredentialError("token_bad_signature", "signature has the wrong length")
    try:
        standard = segment.encode("ascii").translate(_TO_STANDARD_ALPHABET) + b"=="
        return binascii.a2b_base64(standard, strict_mode=True)
    except (binascii.Error, ValueError):  # UnicodeEncodeError is a ValueError
        raise CredentialError("token_malformed", "signature is not base64url") from None


def _trusted_claims(payload_segment: str) -> dict[str, Any]:
    # The signature has verified: these are the issuer's own bytes, which shared.jose
    # produced without duplicate members, so the plain (C) JSON parser suffices.
    try:
        padding = "=" * (-len(payload_segment) % 4)
        claims = json.loads(base64.urlsafe_b64decode(payload_segment + padding))
    except (ValueError, binascii.Error):
        raise CredentialError("token_malformed", "claims are not valid JSON") from None
    if not isinstance(claims, dict):
        raise CredentialError("token_malformed", "claims must be a JSON object")
    return claims


def _time(claims: dict[str, Any], name: str, default: object = None) -> float:
    value = claims.get(name, default)
    if _is_number(value):
        try:
            seconds = float(value)
        except OverflowError:  # an integer beyond any float
            seconds = math.inf
        if math.isfinite(seconds):
            return seconds
    raise CredentialError("credential_claims_invalid", f"{name} must be a NumericDate")


def _read(payload_segment: str, claims: dict[str, Any]) -> _Reading:
    """Check the claims' form once; remembered under the payload's text."""
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
    kid, key = _holder_key(jwk)
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
    _remember(_readings, payload_segment, reading)
    return reading


def _holder_key(jwk: dict[str, Any]) -> tuple[str, OKPKey]:
    """The confirmation key (RFC 7800 ``cnf.jwk``), judged and imported once per JWK."""
    try:
        memo_key = frozenset(jwk.items())
    except TypeError:  # a member that is a list or an object: nothing we issue
        raise CredentialError("credential_claims_invalid", "cnf.jwk is malformed") from None
    known = _holder_keys.get(memo_key)
    if known is not None:
        return known
    kid, x = jwk.get("kid"), jwk.get("x")
    if not isinstance(kid, str) or not isinstance(x, str):
        raise CredentialError("credential_claims_invalid", "cnf.jwk needs kid and x")
    if "d" in jwk:
        raise CredentialError("credential_claims_invalid", "cnf.jwk must be a public key")
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
    if len(_holder_keys) >= _MEMO_LIMIT:
        _holder_keys.clear()
    _holder_keys[memo_key] = (kid, key)
    return kid, key
