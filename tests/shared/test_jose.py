"""shared.jose: RFC 8037 vectors, signing and verification policy, refusals, time checks."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import warnings
from collections.abc import Callable
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from hypothesis import given
from hypothesis import strategies as st
from joserfc import jws
from joserfc.errors import SecurityWarning
from joserfc.jwk import ECKey, Key, OKPKey, RSAKey

from shared import jose
from shared.jose import TokenError
from tests.helpers import b64url, b64url_json

# RFC 8037 Appendix A (https://www.rfc-editor.org/rfc/rfc8037#appendix-A); values checked
# against the RFC text and the test suites of several JOSE libraries that quote it.
RFC8037_A1_PRIVATE_JWK = {
    "kty": "OKP",
    "crv": "Ed25519",
    "d": "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A",
    "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
}
RFC8037_A1_D_HEX = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"
RFC8037_A1_X_HEX = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
RFC8037_A2_PUBLIC_JWK = {
    "kty": "OKP",
    "crv": "Ed25519",
    "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
}
RFC8037_A3_THUMBPRINT_INPUT = (
    '{"crv":"Ed25519","kty":"OKP","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}'
)
RFC8037_A3_THUMBPRINT_HEX = "90facafea9b1556698540f70c0117a22ea37bd5cf3ed3c47093c1707282b4b89"
RFC8037_A3_THUMBPRINT = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
RFC8037_A4_PAYLOAD = b"Example of Ed25519 signing"
RFC8037_A4_SIGNING_INPUT = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc"
RFC8037_A4_SIGNATURE = (
    "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg"
)
RFC8037_A4_JWS = f"{RFC8037_A4_SIGNING_INPUT}.{RFC8037_A4_SIGNATURE}"
# The same payload and key under the RFC 9864 name {"alg":"Ed25519"}. Ed25519 is
# deterministic, so every implementation must produce this; the value is the one in the
# examples of the Go library github.com/shogo82148/goat (jws package).
RFC9864_ED25519_JWS = (
    "eyJhbGciOiJFZDI1NTE5In0.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc."
    "UxhIYLHGg39NVCLpQAVD_UcfOmnGSCzLFZoXYkLiIbFccmOb_qObsgjzLKsfJw-4NlccUgvYrEHrRbNV0HcZAQ"
)

TYP = "ketenpas-link+jwt"
NOW = 1_750_000_000
KEY = jose.import_key(RFC8037_A1_PRIVATE_JWK)
KID = RFC8037_A3_THUMBPRINT
CLAIMS: dict[str, Any] = {"release_id": "r-1", "seq": 0, "iat": NOW, "exp": NOW + 60}


def compact(header: dict[str, Any], claims: object = CLAIMS, key: OKPKey = KEY) -> str:
    """A compact JWS with any header, signed with cryptography directly (not via shared.jose)."""
    payload = claims if isinstance(claims, bytes) else json.dumps(claims).encode()
    signing_input = f"{b64url_json(header)}.{b64url(payload)}"
    return f"{signing_input}.{b64url(ed25519_private(key).sign(signing_input.encode()))}"


def ed25519_private(key: OKPKey) -> Ed25519PrivateKey:
    private = key.private_key
    assert isinstance(private, Ed25519PrivateKey)
    return private


def ed25519_public(key: OKPKey) -> Ed25519PublicKey:
    public = key.public_key
    assert isinstance(public, Ed25519PublicKey)
    return public


def resolver(*keys: Key) -> Callable[[str], Key | None]:
    by_kid = {jose.thumbprint(key): key for key in keys}
    return by_kid.get


RESOLVE = resolver(jose.import_key(RFC8037_A2_PUBLIC_JWK))


def refusal(token: str, *, typ: str = TYP, resolve: Callable[[str], Key | None] = RESOLVE) -> str:
    with pytest.raises(TokenError) as caught:
        jose.verify(token, typ=typ, resolve_key=resolve)
    return caught.value.code


# --- RFC 8037 Appendix A ---------------------------------------------------------------------


def test_rfc8037_a1_private_key_imports_to_the_published_bytes() -> None:
    assert ed25519_private(KEY).private_bytes_raw().hex() == RFC8037_A1_D_HEX
    assert ed25519_public(KEY).public_bytes_raw().hex() == RFC8037_A1_X_HEX


def test_rfc8037_a2_public_key_is_exported_without_private_members() -> None:
    assert jose.public_jwk(KEY) == RFC8037_A2_PUBLIC_JWK


def test_rfc8037_a3_thumbprint() -> None:
    assert hashlib.sha256(RFC8037_A3_THUMBPRINT_INPUT.encode()).hexdigest() == (
        RFC8037_A3_THUMBPRINT_HEX
    )
    assert jose.thumbprint(RFC8037_A2_PUBLIC_JWK) == RFC8037_A3_THUMBPRINT
    assert jose.thumbprint(KEY) == RFC8037_A3_THUMBPRINT
    assert jose.thumbprint(RFC8037_A1_PRIVATE_JWK) == RFC8037_A3_THUMBPRINT


def test_thumbprint_ignores_optional_members() -> None:
    decorated = {**RFC8037_A2_PUBLIC_JWK, "kid": "x", "alg": "EdDSA", "use": "sig"}
    assert jose.thumbprint(decorated) == RFC8037_A3_THUMBPRINT


def test_rfc8037_a4_signature_is_reproduced_exactly() -> None:
    signature = ed25519_private(KEY).sign(RFC8037_A4_SIGNING_INPUT.encode())
    assert b64url(signature) == RFC8037_A4_SIGNATURE
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SecurityWarning)  # joserfc flags "EdDSA" as deprecated
        produced = jws.serialize_compact({"alg": "EdDSA"}, RFC8037_A4_PAYLOAD, KEY, ["EdDSA"])
    assert produced == RFC8037_A4_JWS


def test_rfc8037_a5_signature_verifies_with_the_public_key() -> None:
    public = jose.import_key(RFC8037_A2_PUBLIC_JWK)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SecurityWarning)
        obj = jws.deserialize_compact(RFC8037_A4_JWS, public, ["EdDSA"])
    assert obj.payload == RFC8037_A4_PAYLOAD
    signature = base64.urlsafe_b64decode(RFC8037_A4_SIGNATURE + "==")
    ed25519_public(public).verify(signature, RFC8037_A4_SIGNING_INPUT.encode())


def test_rfc8037_a4_token_is_still_refused_by_policy_without_typ_and_kid() -> None:
    # A valid signature alone is not enough: Ketenpas tokens must say what they are.
    assert refusal(RFC8037_A4_JWS) == "token_bad_type"


def test_rfc9864_ed25519_name_reproduces_the_known_signature() -> None:
    produced = jws.serialize_compact({"alg": "Ed25519"}, RFC8037_A4_PAYLOAD, KEY, ["Ed25519"])
    assert produced == RFC9864_ED25519_JWS


# --- signing and the happy path --------------------------------------------------------------


def test_sign_uses_ed25519_typ_and_thumbprint_kid() -> None:
    token = jose.sign(CLAIMS, KEY, typ=TYP)
    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    assert header == {"alg": "Ed25519", "typ": TYP, "kid": KID}


def test_signed_token_verifies_and_returns_header_claims_and_key() -> None:
    verified = jose.verify(jose.sign(CLAIMS, KEY, typ=TYP), typ=TYP, resolve_key=RESOLVE)
    assert verified.claims == CLAIMS
    assert verified.header["alg"] == "Ed25519"
    assert jose.thumbprint(verified.key) == KID


def test_token_with_older_eddsa_name_verifies() -> None:
    token = compact({"alg": "EdDSA", "typ": TYP, "kid": KID})
    assert jose.verify(token, typ=TYP, resolve_key=RESOLVE).claims == CLAIMS


def test_generated_keys_sign_and_verify() -> None:
    key = jose.generate_key()
    token = jose.sign({"jti": "a"}, key, typ=TYP)
    public = jose.import_key(jose.public_jwk(key))
    assert jose.verify(token, typ=TYP, resolve_key=resolver(public)).claims == {"jti": "a"}


def test_sign_refuses_a_public_key() -> None:
    with pytest.raises(ValueError):
        jose.sign(CLAIMS, jose.import_key(RFC8037_A2_PUBLIC_JWK), typ=TYP)


def test_sign_refuses_non_ed25519_keys() -> None:
    with pytest.raises(ValueError):
        jose.sign(CLAIMS, OKPKey.generate_key("Ed448"), typ=TYP)


def test_sign_refuses_claims_that_are_not_strict_json() -> None:
    with pytest.raises(ValueError):
        jose.sign({"exp": float("nan")}, KEY, typ=TYP)
    with pytest.raises(TokenError):  # 1 and "1" would both become the member "1"
        jose.sign({1: "a", "1": "b"}, KEY, typ=TYP)  # type: ignore[dict-item]  # on purpose


# --- keys and JWKS -----------------------------------------------------------------------------


def test_jwks_lists_public_keys_with_kid_alg_use_once_each() -> None:
    other = jose.generate_key()
    document = jose.jwks([KEY, other, KEY])
    assert document["keys"][0] == {
        **RFC8037_A2_PUBLIC_JWK,
        "kid": KID,
        "alg": "Ed25519",
        "use": "sig",
    }
    assert [entry["kid"] for entry in document["keys"]] == [KID, jose.thumbprint(other)]
    assert all("d" not in entry for entry in document["keys"])


def test_public_jwk_never_copies_stray_members() -> None:
    key = jose.import_key({**RFC8037_A1_PRIVATE_JWK, "kid": "custom", "secret_note": "x"})
    assert jose.public_jwk(key) == RFC8037_A2_PUBLIC_JWK


def test_import_key_refuses_private_jwk_whose_x_does_not_match_d() -> None:
    other_x = jose.public_jwk(jose.generate_key())["x"]
    with pytest.raises(ValueError, match="does not match"):
        jose.import_key({**RFC8037_A1_PRIVATE_JWK, "x": other_x})


@pytest.mark.parametrize(
    "jwk",
    [
        {"kty": "OKP", "crv": "X25519", "x": RFC8037_A2_PUBLIC_JWK["x"]},
        {"kty": "EC", "crv": "P-256", "x": "a", "y": "b"},
        {"kty": "OKP", "crv": "Ed25519", "x": "AAAA"},
        {"kty": "OKP", "crv": "Ed25519"},
    ],
)
def test_import_key_refuses_what_is_not_an_ed25519_key(jwk: dict[str, str]) -> None:
    with pytest.raises(ValueError):
        jose.import_key(jwk)


# --- refusals ------------------------------------------------------------------------------------


@pytest.mark.parametrize("signature", ["", "AA", b64url(bytes(64))])
def test_alg_none_is_refused(signature: str) -> None:
    token = (
        f"{b64url_json({'alg': 'none', 'typ': TYP, 'kid': KID})}.{b64url_json(CLAIMS)}.{signature}"
    )
    assert refusal(token) == "token_alg_refused"


def hs256_with_public_key_as_secret() -> str:
    # The classic key-confusion attack: HMAC keyed with the verifier's public key.
    secret = bytes.fromhex(RFC8037_A1_X_HEX)
    signing_input = f"{b64url_json({'alg': 'HS256', 'typ': TYP, 'kid': KID})}.{b64url_json(CLAIMS)}"
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(mac)}"


def test_hs256_signed_with_the_public_key_bytes_is_refused() -> None:
    assert refusal(hs256_with_public_key_as_secret()) == "token_alg_refused"


def test_none_and_hmac_stay_refused_even_when_put_in_the_allow_list(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(
        jose.ALLOWED_ALGS, TYP, frozenset({"Ed25519", "EdDSA", "none", "HS256", "HS512", "RS256"})
    )
    assert refusal(hs256_with_public_key_as_secret()) == "token_alg_refused"
    none_token = f"{b64url_json({'alg': 'none', 'typ': TYP, 'kid': KID})}.{b64url_json(CLAIMS)}.AA"
    assert refusal(none_token) == "token_alg_refused"


def test_allow_list_narrows_per_typ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(jose.ALLOWED_ALGS, TYP, frozenset({"Ed25519"}))
    assert refusal(compact({"alg": "EdDSA", "typ": TYP, "kid": KID})) == "token_alg_refused"
    assert jose.verify(jose.sign(CLAIMS, KEY, typ=TYP), typ=TYP, resolve_key=RESOLVE)


@pytest.mark.parametrize("alg", ["ES256", "RS256", "Ed448", "ed25519", "EDDSA", "", None, 1])
def test_other_algorithms_are_refused(alg: object) -> None:
    assert refusal(compact({"alg": alg, "typ": TYP, "kid": KID})) == "token_alg_refused"


def test_wrong_typ_is_refused() -> None:
    token = jose.sign(CLAIMS, KEY, typ="ketenpas-ack+jwt")
    assert refusal(token) == "token_bad_type"


@pytest.mark.parametrize("typ", [None, "KETENPAS-LINK+JWT", "application/ketenpas-link+jwt", ["x"]])
def test_missing_or_inexact_typ_is_refused(typ: object) -> None:
    header = {"alg": "Ed25519", "kid": KID} | ({} if typ is None else {"typ": typ})
    assert refusal(compact(header)) == "token_bad_type"


def test_missing_kid_is_refused() -> None:
    assert refusal(compact({"alg": "Ed25519", "typ": TYP})) == "token_kid_missing"
    assert refusal(compact({"alg": "Ed25519", "typ": TYP, "kid": ""})) == "token_kid_missing"


def test_non_string_kid_is_refused() -> None:
    assert refusal(compact({"alg": "Ed25519", "typ": TYP, "kid": 7})) == "token_malformed"


def test_unknown_kid_is_refused() -> None:
    token = jose.sign(CLAIMS, jose.generate_key(), typ=TYP)
    assert refusal(token) == "token_kid_unknown"


@pytest.mark.parametrize(
    "make_key",
    [
        lambda: RSAKey.generate_key(2048),
        lambda: ECKey.generate_key("P-256"),
        lambda: OKPKey.generate_key("X25519"),
        lambda: OKPKey.generate_key("Ed448"),
    ],
    ids=["RSA", "EC", "X25519", "Ed448"],
)
def test_key_that_is_not_ed25519_is_refused(make_key: Callable[[], Key]) -> None:
    wrong = make_key()
    token = jose.sign(CLAIMS, KEY, typ=TYP)
    assert refusal(token, resolve=lambda kid: wrong) == "token_key_unsuitable"


def test_key_that_does_not_match_the_kid_is_refused() -> None:
    other = jose.import_key(jose.public_jwk(jose.generate_key()))
    token = jose.sign(CLAIMS, KEY, typ=TYP)
    assert refusal(token, resolve=lambda kid: other) == "token_key_unsuitable"


@pytest.mark.parametrize(
    "extra", [{"use": "enc"}, {"key_ops": ["encrypt"]}, {"alg": "ES256"}], ids=str
)
def test_key_not_meant_for_verifying_is_refused(extra: dict[str, Any]) -> None:
    key = jose.import_key({**RFC8037_A2_PUBLIC_JWK, **extra})
    token = jose.sign(CLAIMS, KEY, typ=TYP)
    assert refusal(token, resolve=lambda kid: key) == "token_key_unsuitable"


def test_tampered_payload_is_refused() -> None:
    header, _, signature = jose.sign(CLAIMS, KEY, typ=TYP).split(".")
    forged = {**CLAIMS, "release_id": "r-2"}
    assert refusal(f"{header}.{b64url_json(forged)}.{signature}") == "token_bad_signature"


def test_tampered_header_is_refused() -> None:
    _, payload, signature = compact({"alg": "Ed25519", "typ": TYP, "kid": KID}).split(".")
    header = b64url_json({"alg": "EdDSA", "typ": TYP, "kid": KID})
    assert refusal(f"{header}.{payload}.{signature}") == "token_bad_signature"


@pytest.mark.parametrize("index", [0, 31, 32, 63])
def test_tampered_signature_is_refused(index: int) -> None:
    header, payload, signature = jose.sign(CLAIMS, KEY, typ=TYP).split(".")
    raw = bytearray(base64.urlsafe_b64decode(signature + "=="))
    raw[index] ^= 0x01
    assert refusal(f"{header}.{payload}.{b64url(bytes(raw))}") == "token_bad_signature"


def test_truncated_signature_is_refused() -> None:
    header, payload, signature = jose.sign(CLAIMS, KEY, typ=TYP).split(".")
    raw = base64.urlsafe_b64decode(signature + "==")
    assert refusal(f"{header}.{payload}.{b64url(raw[:-1])}") == "token_bad_signature"
    assert refusal(f"{header}.{payload}.{b64url(raw + b'0')}") == "token_bad_signature"


def test_non_canonical_base64_spelling_is_refused() -> None:
    # Same signature bytes, different spelling: the last character's unused bits are set.
    header, payload, signature = jose.sign(CLAIMS, KEY, typ=TYP).split(".")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    respelled = signature[:-1] + alphabet[alphabet.index(signature[-1]) + 1]
    assert base64.urlsafe_b64decode(respelled + "==") == base64.urlsafe_b64decode(signature + "==")
    assert refusal(f"{header}.{payload}.{respelled}") == "token_malformed"


@pytest.mark.parametrize("crit", [["exp"], ["b64"], ["x-ketenpas"], ["exp", "zzz"]], ids=str)
def test_crit_header_is_refused(crit: list[str]) -> None:
    header = {"alg": "Ed25519", "typ": TYP, "kid": KID, "crit": crit, "exp": NOW, "x-ketenpas": 1}
    assert refusal(compact(header)) == "token_crit_unsupported"


@pytest.mark.parametrize("crit", [[], "exp", [1], None], ids=str)
def test_malformed_crit_header_is_refused(crit: object) -> None:
    header = {"alg": "Ed25519", "typ": TYP, "kid": KID, "crit": crit}
    assert refusal(compact(header)) == "token_malformed"


@pytest.mark.parametrize("member", ["jwk", "jku", "x5u", "x5c", "b64"])
def test_header_bringing_its_own_key_is_refused(member: str) -> None:
    attacker = jose.generate_key()
    values: dict[str, Any] = {
        "jwk": jose.public_jwk(attacker),
        "jku": "https://attacker.example/jwks.json",
        "x5u": "https://attacker.example/cert.pem",
        "x5c": ["MIIB"],
        "b64": False,
    }
    header = {
        "alg": "Ed25519",
        "typ": TYP,
        "kid": jose.thumbprint(attacker),
        member: values[member],
    }
    # Even a resolver that would trust the attacker's key never gets asked.
    resolve = resolver(attacker)
    assert refusal(compact(header, key=attacker), resolve=resolve) == "token_header_refused"


def test_embedded_jwk_with_a_victims_kid_is_refused() -> None:
    attacker = jose.generate_key()
    header = {"alg": "Ed25519", "typ": TYP, "kid": KID, "jwk": jose.public_jwk(attacker)}
    assert refusal(compact(header, key=attacker)) == "token_header_refused"


def with_raw_header(header: bytes) -> str:
    return f"{b64url(header)}.{b64url_json(CLAIMS)}.{b64url(bytes(64))}"


@pytest.mark.parametrize(
    "token",
    [
        "",
        ".",
        "..",
        "...",
        "abc",
        "a.b",
        "a.b.c.d",
        "!!!.???.***",
        with_raw_header(b"not json"),
        with_raw_header(b'["alg"]'),
        with_raw_header(b'"alg"'),
        with_raw_header(b'{"alg":"Ed25519","typ":"ketenpas-link+jwt","alg":"none"}'),
        with_raw_header(b'{"alg":NaN}'),
        with_raw_header(b"\xff\xfe"),
        with_raw_header(b"[" * 5000),
        f"{b64url_json({'alg': 'Ed25519'})}==.{b64url_json(CLAIMS)}.{b64url(bytes(64))}",
        f"{b64url_json({'alg': 'Ed25519'})}..{b64url(bytes(64))}",
        "é." * 3,
        "a" * (jose.MAX_TOKEN_LENGTH + 1),
    ],
    ids=lambda token: repr(token[:30]),
)
def test_malformed_compact_strings_are_refused(token: str) -> None:
    assert refusal(token) == "token_malformed"


@pytest.mark.parametrize(
    "claims", [b"not json", b"[1,2]", b'"text"', b'{"a":1,"a":2}', b"\xff"], ids=repr
)
def test_signed_payload_that_is_not_a_json_object_is_refused(claims: bytes) -> None:
    token = compact({"alg": "Ed25519", "typ": TYP, "kid": KID}, claims)
    assert refusal(token) == "token_malformed"


@given(st.text(max_size=300))
def test_random_strings_only_ever_raise_token_error(token: str) -> None:
    with pytest.raises(TokenError):
        jose.verify(token, typ=TYP, resolve_key=RESOLVE)


B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


@given(st.lists(st.text(alphabet=B64URL + "=+/.", max_size=120), min_size=1, max_size=4))
def test_random_base64ish_segments_only_ever_raise_token_error(parts: list[str]) -> None:
    with pytest.raises(TokenError):
        jose.verify(".".join(parts), typ=TYP, resolve_key=RESOLVE)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=8,
)
HEADER_NAMES = st.sampled_from(["alg", "typ", "kid", "crit", "jwk", "cty", "b64", "zip"])


@given(
    st.dictionaries(HEADER_NAMES | st.text(max_size=4), JSON_VALUES, max_size=6),
    st.booleans(),
    JSON_VALUES,
)
def test_validly_signed_arbitrary_headers_never_raise_anything_but_token_error(
    noise: dict[str, Any], keep_good_fields: bool, claims: object
) -> None:
    header = {"alg": "Ed25519", "typ": TYP, "kid": KID, **noise} if keep_good_fields else noise
    token = compact(header, claims)
    try:
        verified = jose.verify(token, typ=TYP, resolve_key=RESOLVE)
    except TokenError:
        return
    # Whatever got through must satisfy the whole policy.
    assert verified.header["typ"] == TYP
    assert verified.header["alg"] in {"Ed25519", "EdDSA"}
    assert verified.header["kid"] == KID
    assert not {"jwk", "jku", "x5u", "x5c", "b64", "crit"} & set(verified.header)
    assert isinstance(verified.claims, dict)


def test_error_carries_code_and_detail() -> None:
    error = TokenError("token_expired", "the token has expired")
    assert (error.code, error.detail) == ("token_expired", "the token has expired")
    assert str(error) == "token_expired: the token has expired"


# --- time checks -----------------------------------------------------------------------------


def test_times_within_bounds_pass() -> None:
    jose.check_times({"iat": NOW, "nbf": NOW, "exp": NOW + 60}, NOW)


def test_expired_within_leeway_passes_and_beyond_is_refused() -> None:
    jose.check_times({"exp": NOW - 29}, NOW)
    with pytest.raises(TokenError) as caught:
        jose.check_times({"exp": NOW - 30}, NOW)
    assert caught.value.code == "token_expired"


def test_not_before_within_leeway_passes_and_beyond_is_refused() -> None:
    jose.check_times({"exp": NOW + 600, "nbf": NOW + 30}, NOW)
    with pytest.raises(TokenError) as caught:
        jose.check_times({"exp": NOW + 600, "nbf": NOW + 31}, NOW)
    assert caught.value.code == "token_not_yet_valid"


def test_issued_in_the_future_beyond_leeway_is_refused() -> None:
    jose.check_times({"exp": NOW + 600, "iat": NOW + 30}, NOW)
    with pytest.raises(TokenError) as caught:
        jose.check_times({"exp": NOW + 600, "iat": NOW + 31}, NOW)
    assert caught.value.code == "token_not_yet_valid"


def test_leeway_is_configurable() -> None:
    jose.check_times({"exp": NOW - 5}, NOW, leeway=10)
    with pytest.raises(TokenError):
        jose.check_times({"exp": NOW - 5}, NOW, leeway=0)


def test_exp_is_required_unless_told_otherwise() -> None:
    with pytest.raises(TokenError) as caught:
        jose.check_times({"iat": NOW}, NOW)
    assert caught.value.code == "token_claims_invalid"
    jose.check_times({"iat": NOW}, NOW, require_exp=False)


def test_lifetime_longer_than_allowed_is_refused() -> None:
    jose.check_times({"iat": NOW, "exp": NOW + 120}, NOW, max_lifetime=120)
    with pytest.raises(TokenError) as caught:
        jose.check_times({"iat": NOW, "exp": NOW + 121}, NOW, max_lifetime=120)
    assert caught.value.code == "token_lifetime_too_long"


def test_lifetime_bound_needs_iat() -> None:
    with pytest.raises(TokenError) as caught:
        jose.check_times({"exp": NOW + 10}, NOW, max_lifetime=120)
    assert caught.value.code == "token_claims_invalid"


@pytest.mark.parametrize("value", ["1750000000", True, [NOW], float("inf"), 10**400], ids=repr)
def test_time_claims_that_are_not_numeric_dates_are_refused(value: object) -> None:
    with pytest.raises(TokenError) as caught:
        jose.check_times({"exp": value}, NOW)
    assert caught.value.code == "token_claims_invalid"
