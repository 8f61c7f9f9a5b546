"""The verifier's side of credentials (shared.credentials.verify_credential), no database."""

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from joserfc import jws
from joserfc.jwk import Key, OctKey, OKPKey

from services.identity.credentials.statuslist import sign_status_list, status_list_uri
from shared import jose
from shared.credentials import (
    CREDENTIAL_TYP,
    CredentialError,
    StatusListView,
    decode_status_list_token,
    verify_credential,
)
from shared.status_list import StatusValue
from shared.verifier_cache import VerifierCache
from tests.helpers import b64url

ISSUER = "https://identity.ketenpas.example"
URI = status_list_uri(ISSUER, 1)
NOW = 1_900_000_000
SERVICE_KEY = jose.generate_key()
HOLDER_KEY = jose.generate_key()
HOLDER_KID = jose.thumbprint(HOLDER_KEY)


def public(key: OKPKey) -> OKPKey:
    return jose.import_key(jose.public_jwk(key))


SERVICE_PUBLIC = public(SERVICE_KEY)
SERVICE_KID = jose.thumbprint(SERVICE_KEY)


def resolve(kid: str) -> Key | None:
    return SERVICE_PUBLIC if kid == SERVICE_KID else None


def claims(**changes: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "iss": ISSUER,
        "sub": "EU.EORI.NL123456789",
        "roles": ["carrier"],
        "cnf": {"jwk": {**jose.public_jwk(HOLDER_KEY), "kid": HOLDER_KID}},
        "iat": NOW - 100,
        "nbf": NOW - 100,
        "exp": NOW + 86400,
        "jti": "5b0c6a1e-8f7e-4b9a-9c55-0d5a8b3c1f00",
        "status": {"status_list": {"idx": 3, "uri": URI}},
    }
    values.update(changes)
    return {name: value for name, value in values.items() if value is not None}


def credential(key: OKPKey = SERVICE_KEY, typ: str = CREDENTIAL_TYP, **changes: Any) -> str:
    return jose.sign(claims(**changes), key, typ=typ)


def view(*set_entries: tuple[int, int], **changes: Any) -> StatusListView:
    statuses = bytearray(64)
    for idx, value in set_entries:
        statuses[idx] = value
    fields: dict[str, Any] = {
        "uri": URI,
        "issuer": ISSUER,
        "bits": 2,
        "statuses": bytes(statuses),
        "issued_at": NOW - 10,
        "expires_at": NOW + 290,
        "ttl": 300,
    }
    fields.update(changes)
    return StatusListView(**fields)


#: The verifier cache an app would own; emptied before each test (`_nothing_remembered`).
CACHE = VerifierCache()


@pytest.fixture(autouse=True)
def _nothing_remembered() -> None:
    """Each test starts as a freshly started verifier does: with nothing remembered."""
    CACHE.clear()


def check(
    token: object,
    lists: dict[str, StatusListView] | None = None,
    *,
    resolve_key: Callable[[str], Key | None] = resolve,
    now: float = NOW,
) -> Any:
    return verify_credential(
        token,  # type: ignore[arg-type]
        cache=CACHE,
        resolve_key=resolve_key,
        issuer=ISSUER,
        status_lists={URI: view()} if lists is None else lists,
        now=now,
    )


def refused(token: object, code: str, **kwargs: Any) -> None:
    with pytest.raises(CredentialError) as caught:
        check(token, **kwargs)
    assert caught.value.code == code, caught.value.detail


# --- accepted -------------------------------------------------------------------------------------


def test_a_valid_credential_says_who_holds_which_key_with_which_roles() -> None:
    verified = check(credential())
    assert verified.party_id == "EU.EORI.NL123456789"
    assert verified.roles == frozenset({"carrier"})
    assert verified.kid == HOLDER_KID
    assert jose.thumbprint(verified.key) == HOLDER_KID
    assert not verified.key.is_private
    assert (verified.iat, verified.nbf, verified.exp) == (NOW - 100, NOW - 100, NOW + 86400)
    assert verified.status is StatusValue.VALID
    assert (verified.status_uri, verified.status_idx) == (URI, 3)
    assert verified.credential_id == "5b0c6a1e-8f7e-4b9a-9c55-0d5a8b3c1f00"


def test_verifying_again_gives_the_same_answer() -> None:
    token = credential()
    assert check(token) == check(token) == check(token)


def test_a_status_list_decoded_from_its_token_serves_the_check() -> None:
    statuses = bytearray(128)
    statuses[5] = StatusValue.SUSPENDED
    token = sign_status_list(
        bytes(statuses), issuer=ISSUER, uri=URI, now=NOW, ttl=300, key=SERVICE_KEY
    )
    decoded = decode_status_list_token(token, resolve_key=resolve, issuer=ISSUER, now=NOW)
    assert check(credential(status={"status_list": {"idx": 4, "uri": URI}}), {URI: decoded})
    with pytest.raises(CredentialError, match="suspended"):
        check(credential(status={"status_list": {"idx": 5, "uri": URI}}), {URI: decoded})


def test_a_credential_within_the_clock_skew_is_accepted() -> None:
    assert check(credential(nbf=NOW + 29, iat=NOW + 29))
    assert check(credential(exp=NOW - 29))


def test_a_verifier_with_refreshed_key_objects_still_accepts() -> None:
    token = credential()
    check(token)
    fresh = public(SERVICE_KEY)
    assert check(token, resolve_key=lambda kid: fresh if kid == SERVICE_KID else None)


# --- the status entry ---------------------------------------------------------------------------


def test_a_revoked_credential_is_refused() -> None:
    refused(credential(), "credential_revoked", lists={URI: view((3, StatusValue.INVALID))})


def test_a_suspended_credential_is_refused() -> None:
    refused(credential(), "credential_suspended", lists={URI: view((3, StatusValue.SUSPENDED))})


def test_an_unknown_status_value_is_refused() -> None:
    refused(credential(), "credential_status_unknown", lists={URI: view((3, 3))})


def test_only_the_credentials_own_entry_counts() -> None:
    assert check(credential(), {URI: view((2, 1), (4, 2))})


def test_an_expired_credential_is_refused_as_expired_even_when_also_revoked() -> None:
    refused(
        credential(exp=NOW - 31),
        "credential_expired",
        lists={URI: view((3, StatusValue.INVALID))},
    )


def test_a_credential_without_a_held_status_list_is_refused() -> None:
    refused(credential(), "status_list_unknown", lists={})
    other = status_list_uri(ISSUER, 2)
    refused(credential(), "status_list_unknown", lists={other: view(uri=other)})


def test_a_status_list_filed_under_the_wrong_uri_is_not_used() -> None:
    refused(credential(), "status_list_unknown", lists={URI: view(uri=status_list_uri(ISSUER, 9))})


def test_a_status_list_of_another_issuer_is_not_used() -> None:
    refused(credential(), "status_list_unknown", lists={URI: view(issuer="https://evil.example")})


def test_an_expired_status_list_fails_closed() -> None:
    refused(credential(), "status_list_expired", lists={URI: view(expires_at=NOW - 30)})
    assert check(credential(), {URI: view(expires_at=NOW - 29)})


@pytest.mark.parametrize("idx", [64, 10**9, -1])
def test_an_index_outside_the_list_is_refused(idx: int) -> None:
    refused(
        credential(status={"status_list": {"idx": idx, "uri": URI}}), "status_index_out_of_range"
    )


@pytest.mark.parametrize(
    "status",
    [
        {"status_list": {"idx": "3", "uri": URI}},
        {"status_list": {"idx": True, "uri": URI}},
        {"status_list": {"idx": 3.0, "uri": URI}},
        {"status_list": {"idx": 3, "uri": 1}},
        {"status_list": {"idx": 3}},
        {"status_list": [3, URI]},
        {"other_mechanism": {}},
        "revoked?",
    ],
)
def test_a_malformed_status_reference_is_refused(status: object) -> None:
    refused(credential(status=status), "credential_claims_invalid")


# --- the credential's claims -----------------------------------------------------------------


def test_a_credential_of_another_issuer_is_refused() -> None:
    refused(credential(iss="https://elsewhere.example"), "token_wrong_issuer")


def test_a_credential_not_yet_valid_is_refused() -> None:
    refused(credential(nbf=NOW + 31), "credential_not_yet_valid")
    refused(credential(iat=NOW + 31, nbf=NOW), "credential_not_yet_valid")


@pytest.mark.parametrize(
    "change",
    [
        {"exp": None},
        {"iat": None},
        {"exp": "tomorrow"},
        {"exp": 10**400},
        {"iat": -(10**400)},
        {"nbf": 10**309},
        {"sub": None},
        {"sub": 42},
        {"jti": None},
        {"roles": None},
        {"roles": "carrier"},
        {"roles": ["carrier", 7]},
        {"cnf": None},
        {"cnf": {"jwk": "key"}},
        {"cnf": {"jwk": {**jose.public_jwk(HOLDER_KEY)}}},
        {"cnf": {"jwk": {**jose.public_jwk(HOLDER_KEY), "kid": "not-its-thumbprint"}}},
        {"cnf": {"jwk": {**HOLDER_KEY.as_dict(private=True), "kid": HOLDER_KID}}},
        {"cnf": {"jwk": {"kty": "EC", "crv": "P-256", "x": "AA", "kid": "AA"}}},
        {"cnf": {"jwk": {"kty": "OKP", "crv": "Ed25519", "x": "AAAA", "kid": "AA"}}},
    ],
)
def test_a_credential_with_missing_or_wrong_claims_is_refused(change: dict[str, Any]) -> None:
    with pytest.raises(CredentialError) as caught:
        check(credential(**change))
    assert caught.value.code in {"credential_claims_invalid", "token_claims_invalid"}


# --- the signature and header ----------------------------------------------------------------


def test_a_changed_payload_is_refused_before_and_after_its_header_is_known() -> None:
    good = credential()
    header, _, signature = good.split(".")
    forged_claims = claims(roles=["shipping_line"])
    forged = f"{header}.{b64url(json.dumps(forged_claims).encode())}.{signature}"
    refused(forged, "token_bad_signature")
    check(good)  # now the header is known
    refused(forged, "token_bad_signature")


def test_a_changed_signature_is_refused() -> None:
    good = credential()
    check(good)
    head, _, signature = good.rpartition(".")
    raw = bytearray(base64.urlsafe_b64decode(signature + "=="))
    raw[0] ^= 1
    refused(f"{head}.{b64url(bytes(raw))}", "token_bad_signature")


def test_a_second_spelling_of_the_same_signature_is_refused() -> None:
    good = credential()
    check(good)
    head, _, signature = good.rpartition(".")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    # The last character carries 2 bits; setting the 4 unused ones decodes the same.
    respelled = signature[:-1] + alphabet[alphabet.index(signature[-1]) | 1]
    # The same code on the remembered path (the header is known) as on a first sight.
    for spelling, code in (
        (respelled, "token_malformed"),
        (f"{signature}A", "token_bad_signature"),
        (signature[:-1], "token_malformed"),
    ):
        refused(f"{head}.{spelling}", code)
        CACHE.clear()
        refused(f"{head}.{spelling}", code)
        check(good)


def test_a_signature_in_the_standard_base64_alphabet_is_refused() -> None:
    # Find a credential whose signature holds "-" or "_" (most do).
    token = next(
        t for t in (credential(jti=str(n)) for n in range(100)) if {"-", "_"} & set(t[-86:])
    )
    check(token)
    head, _, signature = token.rpartition(".")
    standard = signature.replace("-", "+").replace("_", "/")
    refused(f"{head}.{standard}", "token_malformed")


def test_a_credential_signed_by_an_unknown_key_is_refused() -> None:
    refused(credential(key=jose.generate_key()), "token_kid_unknown")


def test_a_credential_stops_verifying_when_its_signing_key_is_withdrawn() -> None:
    token = credential()
    check(token)
    refused(token, "token_kid_unknown", resolve_key=lambda kid: None)


def test_a_resolver_handing_back_another_key_is_not_trusted() -> None:
    token = credential()
    check(token)
    stranger = public(jose.generate_key())
    refused(token, "token_key_unsuitable", resolve_key=lambda kid: stranger)


def test_a_token_of_another_type_signed_by_the_service_is_refused() -> None:
    refused(credential(typ="at+jwt"), "token_bad_type")
    refused(credential(typ="statuslist+jwt"), "token_bad_type")


def test_an_unsigned_credential_is_refused() -> None:
    header = b64url(json.dumps({"alg": "none", "typ": CREDENTIAL_TYP, "kid": SERVICE_KID}).encode())
    payload = b64url(json.dumps(claims()).encode())
    refused(f"{header}.{payload}.", "token_alg_refused")


def test_an_hmac_credential_keyed_with_the_public_key_is_refused() -> None:
    secret = OctKey.import_key(jose.public_jwk(SERVICE_KEY)["x"].encode())
    header = {"alg": "HS256", "typ": CREDENTIAL_TYP, "kid": SERVICE_KID}
    token = jws.serialize_compact(header, json.dumps(claims()), secret, algorithms=["HS256"])
    refused(token, "token_alg_refused")


@pytest.mark.parametrize(
    "token",
    [None, 42, "", "a.b", "a.b.c.d", "x" * (jose.MAX_TOKEN_LENGTH + 1), "..", "é.é.é"],
)
def test_a_token_that_is_not_a_compact_jws_is_refused(token: object) -> None:
    with pytest.raises(CredentialError) as caught:
        check(token)
    assert caught.value.code.startswith("token_")


_GOOD = credential()
_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ "


@settings(max_examples=300)
@given(st.integers(0, len(_GOOD) - 1), st.sampled_from(_ALPHABET))
def test_any_one_character_change_is_refused_with_a_code(position: int, char: str) -> None:
    check(_GOOD)  # the header is known, so the fast path is exercised too
    mutated = _GOOD[:position] + char + _GOOD[position + 1 :]
    if mutated == _GOOD:
        return
    with pytest.raises(CredentialError):
        check(mutated)


# --- what is remembered between calls never replaces a check ----------------------------------


def test_a_credential_verified_before_is_refused_once_it_expires() -> None:
    token = credential()
    check(token)
    refused(token, "credential_expired", now=NOW + 86400 + 30)


def test_a_credential_verified_before_is_refused_once_its_entry_is_revoked() -> None:
    token = credential()
    check(token)
    refused(token, "credential_revoked", lists={URI: view((3, StatusValue.INVALID))})
    assert check(token)


def test_a_credential_verified_before_is_refused_by_a_verifier_expecting_another_issuer() -> None:
    token = credential()
    check(token)
    with pytest.raises(CredentialError) as caught:
        verify_credential(
            token,
            cache=CACHE,
            resolve_key=resolve,
            issuer="https://other-identity.example",
            status_lists={URI: view(issuer="https://other-identity.example")},
            now=NOW,
        )
    assert caught.value.code == "token_wrong_issuer"


_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)
_CLAIM_NAMES = ["iss", "sub", "roles", "cnf", "iat", "nbf", "exp", "jti", "status", "x"]


@settings(max_examples=300)
@given(st.dictionaries(st.sampled_from(_CLAIM_NAMES), _json, max_size=4))
def test_any_signed_claims_are_accepted_or_refused_with_a_code(changes: dict[str, Any]) -> None:
    token = jose.sign({**claims(), **changes}, SERVICE_KEY, typ=CREDENTIAL_TYP)
    for _ in range(2):  # first sight, then the remembered header
        try:
            check(token)
        except CredentialError as exc:
            assert exc.code
