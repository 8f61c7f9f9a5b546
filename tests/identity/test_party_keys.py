"""Party keys: own public keys, custodial keys sealed at rest, retirement, rotation, CLI."""

import asyncio
import json
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import given
from hypothesis import strategies as st
from joserfc.jwk import OKPKey
from sqlmodel import select

from services.identity.cli_support import cli_actor
from services.identity.keys.cli import cli
from services.identity.keys.models import KeyNotice, KeyStatus, PartyKey
from services.identity.keys.schemas import KeyNoticeView
from services.identity.keys.service import parse_public_jwk
from services.identity.sealing import SealError, unseal
from shared import jose
from shared.problems import InvalidInput
from tests.helpers import assert_problem, b64url, invoke_cli
from tests.identity.assertions import audit_events, get_row, unchanged
from tests.identity.factories import (
    add_certified_key,
    add_own_key,
    admin_headers,
    make_party,
    new_eori,
    party_client,
    person_headers,
)

# RFC 8037 appendix A.1 (the key) and A.3 (its RFC 7638 thumbprint).
RFC8037_PUBLIC = {
    "kty": "OKP",
    "crv": "Ed25519",
    "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
}
RFC8037_PRIVATE = {**RFC8037_PUBLIC, "d": "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"}
RFC8037_THUMBPRINT = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"


def fresh_public_jwk() -> dict[str, str]:
    return jose.public_jwk(jose.generate_key())


# --- small-order points, checked here independently of the code under test -------------------

_P = 2**255 - 19
_D = -121665 * pow(121666, _P - 2, _P) % _P


def _decode_point(raw: bytes) -> tuple[int, int] | None:
    """RFC 8032 §5.1.3 point decoding (without the y < p check)."""
    y = int.from_bytes(raw, "little") & ((1 << 255) - 1)
    sign = raw[31] >> 7
    u, v = (y * y - 1) % _P, (_D * y * y + 1) % _P
    x = u * pow(v, 3, _P) * pow(u * pow(v, 7, _P), (_P - 5) // 8, _P) % _P
    if (v * x * x - u) % _P:
        x = x * pow(2, (_P - 1) // 4, _P) % _P
    if (v * x * x - u) % _P:
        return None
    if x % 2 != sign:
        x = _P - x
    return x, y % _P


def _times_eight_is_identity(point: tuple[int, int]) -> bool:
    x, y = point
    for _ in range(3):
        t = _D * x * x * y * y % _P
        x, y = (
            2 * x * y * pow(1 + t, _P - 2, _P) % _P,
            (y * y + x * x) * pow(1 - t, _P - 2, _P) % _P,
        )
    return (x, y) == (0, 1)


SMALL_ORDER_ENCODINGS = [
    bytes.fromhex("0100000000000000000000000000000000000000000000000000000000000000"),
    bytes.fromhex("ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
    bytes.fromhex("0000000000000000000000000000000000000000000000000000000000000000"),
    bytes.fromhex("0000000000000000000000000000000000000000000000000000000000000080"),
    bytes.fromhex("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05"),
    bytes.fromhex("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85"),
    bytes.fromhex("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a"),
    bytes.fromhex("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa"),
]
NON_CANONICAL_ENCODINGS = [  # y >= p
    bytes.fromhex("edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
    bytes.fromhex("eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
]


@pytest.mark.parametrize("raw", SMALL_ORDER_ENCODINGS, ids=lambda raw: raw.hex()[:8])
def test_small_order_public_keys_are_refused_as_weak(raw: bytes) -> None:
    point = _decode_point(raw)
    assert point is not None and _times_eight_is_identity(point)  # the vector is what it claims
    with pytest.raises(InvalidInput) as refused:
        parse_public_jwk({"kty": "OKP", "crv": "Ed25519", "x": b64url(raw)})
    assert refused.value.code == "weak_key"


@pytest.mark.parametrize("raw", NON_CANONICAL_ENCODINGS, ids=lambda raw: raw.hex()[:8])
def test_non_canonical_public_keys_are_refused(raw: bytes) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_public_jwk({"kty": "OKP", "crv": "Ed25519", "x": b64url(raw)})
    assert refused.value.code == "weak_key"


@given(seed=st.binary(min_size=32, max_size=32))
def test_every_real_ed25519_public_key_is_accepted_with_its_thumbprint_as_kid(seed: bytes) -> None:
    public = Ed25519PrivateKey.from_private_bytes(seed).public_key()
    x = b64url(public.public_bytes(Encoding.Raw, PublicFormat.Raw))
    jwk = {"kty": "OKP", "crv": "Ed25519", "x": x}
    kid, stored = parse_public_jwk(jwk)
    assert stored == jwk
    assert kid == jose.thumbprint(jwk)


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)


@given(
    jwk=st.dictionaries(
        st.sampled_from(["kty", "crv", "x", "kid", "use", "alg", "key_ops", "d", "n", "e"])
        | st.text(max_size=5),
        _JSON | st.sampled_from(["OKP", "Ed25519", "sig", RFC8037_PUBLIC["x"]]),
        max_size=7,
    )
)
def test_any_json_object_is_either_a_public_key_or_a_422(jwk: dict[str, Any]) -> None:
    try:
        kid, stored = parse_public_jwk(jwk)
    except InvalidInput as refused:
        assert refused.status == 422 and refused.code
        json.dumps({"detail": refused.detail}).encode()  # always renderable
        return
    assert set(stored) == {"kty", "crv", "x"} and "d" not in jwk
    assert kid == jose.thumbprint(stored)


# --- registering own keys --------------------------------------------------------------------


async def test_the_rfc8037_key_is_registered_under_its_rfc7638_thumbprint(
    identity_app: Any,
) -> None:
    app, client = identity_app
    admin, headers = await admin_headers(app)
    carrier = await make_party(app, "carrier")

    response = await client.post(
        f"/v1/parties/{carrier.id}/keys", json={"jwk": RFC8037_PUBLIC}, headers=headers
    )

    assert response.status_code == 201, response.text
    view = response.json()
    assert view["kid"] == RFC8037_THUMBPRINT
    assert view["public_jwk"] == RFC8037_PUBLIC
    assert view["custodial"] is False and view["status"] == "active"
    stored = await get_row(app, PartyKey, RFC8037_THUMBPRINT)
    assert stored.party_id == carrier.id and stored.sealed_private is None
    [event] = await audit_events(app, "party_key.registered")
    assert event == event | {
        "party_id": carrier.id,
        "kid": RFC8037_THUMBPRINT,
        "custodial": False,
        "actor": f"client:{admin.id}",
    }


async def test_a_party_client_registers_its_own_key_only_with_proof_of_both_keys(
    identity_app: Any,
) -> None:
    app, client = identity_app
    carrier, headers = await party_client(app, "carrier")
    current = await add_certified_key(app, carrier)
    jwk = {**fresh_public_jwk(), "use": "sig", "alg": "Ed25519", "key_ops": ["verify"]}
    jwk["kid"] = jose.thumbprint({k: jwk[k] for k in ("kty", "crv", "x")})

    # The token alone is not enough: a leaked token must not become a key of its own.
    alone = await client.post(f"/v1/parties/{carrier.id}/keys", json={"jwk": jwk}, headers=headers)
    assert_problem(alone, 403, "key_proof_required")
    # Both proofs are checked (this one cannot be made without the new private key): the
    # new key's proof signed by the current key is no proof of the new key.
    now = int(time.time())
    claims = {
        "iss": carrier.id,
        "aud": app.state.settings.issuer,
        "jkt": jwk["kid"],
        "iat": now,
        "exp": now + 30,
        "jti": str(uuid.uuid4()),
    }
    proof = jose.sign(claims, current, typ="ketenpas-key-proof+jwt")
    response = await client.post(
        f"/v1/parties/{carrier.id}/keys",
        json={"jwk": jwk, "proof": proof, "new_key_proof": proof},
        headers=headers,
    )
    assert_problem(response, 422, "key_proof_invalid")
    assert await audit_events(app, "party_key.registered") == []


@pytest.mark.parametrize(
    ("jwk", "code"),
    [
        (RFC8037_PRIVATE, "private_key_refused"),
        ({**RFC8037_PUBLIC, "d": ""}, "private_key_refused"),
        ({"kty": "RSA", "n": "AQAB", "e": "AQAB", "d": "AQAB"}, "private_key_refused"),
        ({"kty": "oct", "k": "c2VjcmV0"}, "private_key_refused"),
        ({"kty": "RSA", "n": "sXch", "e": "AQAB"}, "unsupported_key"),
        ({"kty": "EC", "crv": "P-256", "x": "f83O", "y": "x_FE"}, "unsupported_key"),
        ({"kty": "OKP", "crv": "X25519", "x": RFC8037_PUBLIC["x"]}, "unsupported_key"),
        ({"kty": "OKP", "crv": "Ed448", "x": RFC8037_PUBLIC["x"]}, "unsupported_key"),
        ({"crv": "Ed25519", "x": RFC8037_PUBLIC["x"]}, "unsupported_key"),
        ({"kty": "OKP", "crv": "Ed25519"}, "invalid_jwk"),
        ({"kty": "OKP", "crv": "Ed25519", "x": 42}, "invalid_jwk"),
        ({"kty": "OKP", "crv": "Ed25519", "x": b64url(b"\x01" * 31)}, "invalid_jwk"),
        ({"kty": "OKP", "crv": "Ed25519", "x": RFC8037_PUBLIC["x"] + "="}, "invalid_jwk"),
        ({"kty": "OKP", "crv": "Ed25519", "x": RFC8037_PUBLIC["x"][:-1] + "p"}, "invalid_jwk"),
        (
            {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo"},
            "invalid_jwk",
        ),
        ({**RFC8037_PUBLIC, "x5c": ["MIIB"]}, "invalid_jwk"),
        ({**RFC8037_PUBLIC, "jku": "https://evil.example/jwks"}, "invalid_jwk"),
        ({**RFC8037_PUBLIC, "use": "enc"}, "invalid_jwk"),
        ({**RFC8037_PUBLIC, "alg": "RS256"}, "invalid_jwk"),
        ({**RFC8037_PUBLIC, "alg": "none"}, "invalid_jwk"),
        ({**RFC8037_PUBLIC, "key_ops": ["sign"]}, "invalid_jwk"),
        ({**RFC8037_PUBLIC, "key_ops": "verify"}, "invalid_jwk"),
        ({**RFC8037_PUBLIC, "kid": "my-key"}, "kid_mismatch"),
        ({"kty": "OKP", "crv": "Ed25519", "x": b64url(bytes(32))}, "weak_key"),
    ],
)
async def test_unacceptable_keys_are_refused_without_state_change(
    identity_app: Any, jwk: dict[str, Any], code: str
) -> None:
    app, client = identity_app
    _, headers = await admin_headers(app)
    carrier = await make_party(app, "carrier")
    async with unchanged(app):
        response = await client.post(
            f"/v1/parties/{carrier.id}/keys", json={"jwk": jwk}, headers=headers
        )
        assert_problem(response, 422, code)


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"jwk": None},
        {"jwk": [RFC8037_PUBLIC]},
        {"jwk": "eyJrdHkiOiJPS1AifQ"},
        {"jwk": RFC8037_PUBLIC, "kid": "x"},
    ],
)
async def test_bodies_without_a_jwk_object_are_refused(
    identity_app: Any, body: dict[str, Any]
) -> None:
    app, client = identity_app
    _, headers = await admin_headers(app)
    carrier = await make_party(app, "carrier")
    async with unchanged(app):
        response = await client.post(f"/v1/parties/{carrier.id}/keys", json=body, headers=headers)
        assert_problem(response, 422, "invalid_request")


async def test_a_key_is_registered_once_and_never_for_two_parties(identity_app: Any) -> None:
    app, client = identity_app
    _, headers = await admin_headers(app)
    carrier = await make_party(app, "carrier")
    other = await make_party(app, "carrier")
    jwk = fresh_public_jwk()
    first = await client.post(f"/v1/parties/{carrier.id}/keys", json={"jwk": jwk}, headers=headers)
    assert first.status_code == 201

    async with unchanged(app):
        again = await client.post(
            f"/v1/parties/{carrier.id}/keys", json={"jwk": jwk}, headers=headers
        )
        stolen = await client.post(
            f"/v1/parties/{other.id}/keys", json={"jwk": jwk}, headers=headers
        )

        assert_problem(again, 409, "key_exists")
        assert_problem(stolen, 409, "key_of_other_party")


async def test_who_may_register_a_partys_key(identity_app: Any) -> None:
    app, client = identity_app
    carrier, _ = await party_client(app, "carrier")
    _, other_client = await party_client(app, "carrier")
    dispatcher = await person_headers(app, carrier, "dispatcher")
    url = f"/v1/parties/{carrier.id}/keys"

    async with unchanged(app):
        by_other = await client.post(url, json={"jwk": fresh_public_jwk()}, headers=other_client)
        by_person = await client.post(url, json={"jwk": fresh_public_jwk()}, headers=dispatcher)
        anonymous = await client.post(url, json={"jwk": fresh_public_jwk()})
        unknown_party = await client.post(
            f"/v1/parties/{new_eori()}/keys", json={"jwk": fresh_public_jwk()}, headers=other_client
        )

        assert_problem(by_other, 404, "party_not_found")
        assert by_other.json() == unknown_party.json()
        assert_problem(by_person, 403, "client_required")
        assert_problem(anonymous, 401, "token_missing")


async def test_an_admin_gets_404_for_an_unknown_party(identity_app: Any) -> None:
    app, client = identity_app
    _, headers = await admin_headers(app)
    async with unchanged(app):
        for path in ("keys", "keys/custodial", "keys/rotate"):
            body = {"jwk": fresh_public_jwk()} if path == "keys" else {}
            response = await client.post(
                f"/v1/parties/{new_eori()}/{path}", json=body, headers=headers
            )
            assert_problem(response, 404, "party_not_found")


async def test_a_revoked_party_gets_no_new_keys(identity_app: Any) -> None:
    app, client = identity_app
    _, headers = await admin_headers(app)
    revoked = await make_party(app, "carrier", status="revoked")
    suspended = await make_party(app, "carrier", status="suspended")

    async with unchanged(app):
        own = await client.post(
            f"/v1/parties/{revoked.id}/keys", json={"jwk": fresh_public_jwk()}, headers=headers
        )
        custodial = await client.post(f"/v1/parties/{revoked.id}/keys/custodial", headers=headers)
        rotated = await client.post(
            f"/v1/parties/{revoked.id}/keys/rotate", json={}, headers=headers
        )

        for response in (own, custodial, rotated):
            assert_problem(response, 409, "party_revoked")
    # A suspended party may be given a new key (say, after a compromise, before reinstating).
    response = await client.post(f"/v1/parties/{suspended.id}/keys/custodial", headers=headers)
    assert response.status_code == 201


# --- custodial keys ------------------------------------------------------------------------------


async def test_a_custodial_key_is_sealed_and_bound_to_its_row(identity_app: Any) -> None:
    app, client = identity_app
    admin, headers = await admin_headers(app)
    carrier = await make_party(app, "carrier")

    response = await client.post(f"/v1/parties/{carrier.id}/keys/custodial", headers=headers)

    assert response.status_code == 201, response.text
    view = response.json()
    assert view["custodial"] is True and set(view["public_jwk"]) == {"kty", "crv", "x"}
    stored = await get_row(app, PartyKey, view["kid"])
    kek = app.state.settings.kek_bytes()
    binding = f"party_keys:{carrier.id}:{view['kid']}"
    private = OKPKey.import_key(unseal(kek, bytes(stored.sealed_private), bound_to=binding))
    assert jose.thumbprint(private) == view["kid"]
    assert jose.public_jwk(private) == view["public_jwk"]
    with pytest.raises(SealError):  # copied into another row, it does not open
        unseal(kek, bytes(stored.sealed_private), bound_to="party_keys:someone-else")
    with pytest.raises(SealError):  # nor moved to another party
        unseal(kek, bytes(stored.sealed_private), bound_to=f"party_keys:{new_eori()}:{view['kid']}")
    with pytest.raises(SealError):  # nor under another key-encryption key
        unseal(bytes(32), bytes(stored.sealed_private), bound_to=binding)
    [event] = await audit_events(app, "party_key.created")
    assert event["custodial"] is True and event["actor"] == f"client:{admin.id}"


async def test_a_party_has_one_active_custodial_key(identity_app: Any) -> None:
    app, client = identity_app
    _, headers = await admin_headers(app)
    carrier = await make_party(app, "carrier")
    url = f"/v1/parties/{carrier.id}/keys/custodial"
    assert (await client.post(url, headers=headers)).status_code == 201

    async with unchanged(app):
        second = await client.post(url, headers=headers)

        assert_problem(second, 409, "custodial_key_exists")


async def test_concurrent_requests_make_one_custodial_key(identity_app: Any) -> None:
    app, client = identity_app
    _, headers = await admin_headers(app)
    carrier = await make_party(app, "carrier")
    url = f"/v1/parties/{carrier.id}/keys/custodial"

    responses = await asyncio.gather(*(client.post(url, headers=headers) for _ in range(3)))

    assert sorted(r.status_code for r in responses) == [201, 409, 409]
    keys = (await client.get(f"/v1/parties/{carrier.id}/keys", headers=headers)).json()
    assert [k["status"] for k in keys if k["custodial"]] == ["active"]


async def test_only_an_admin_generates_custodial_keys(identity_app: Any) -> None:
    app, client = identity_app
    carrier, headers = await party_client(app, "carrier")
    async with unchanged(app):
        response = await client.post(f"/v1/parties/{carrier.id}/keys/custodial", headers=headers)
        assert_problem(response, 403, "admin_required")


# --- retirement ----------------------------------------------------------------------------------


async def test_a_retired_key_stays_published_and_its_private_half_is_erased(
    identity_app: Any,
) -> None:
    app, client = identity_app
    _, headers = await admin_headers(app)
    carrier = await make_party(app, "carrier")
    created = await client.post(f"/v1/parties/{carrier.id}/keys/custodial", headers=headers)
    kid = created.json()["kid"]

    retired = await client.post(f"/v1/parties/{carrier.id}/keys/{kid}/retire", headers=headers)

    assert retired.status_code == 200, retired.text
    assert retired.json()["status"] == "retired" and retired.json()["retired_at"]
    stored = await get_row(app, PartyKey, kid)
    assert stored.status == KeyStatus.retired and stored.sealed_private is None
    published = await client.get(f"/v1/keys/{kid}")
    assert published.status_code == 200
    assert published.json()["status"] == "retired"
    assert published.json()["public_jwk"] == created.json()["public_jwk"]
    [event] = await audit_events(app, "party_key.retired")
    assert event["kid"] == kid and event["party_id"] == carrier.id


async def test_retiring_twice_an_unknown_key_or_another_partys_key_is_refused(
    identity_app: Any,
) -> None:
    app, client = identity_app
    _, headers = await admin_headers(app)
    carrier = await make_party(app, "carrier")
    other = await make_party(app, "carrier")
    own_key = jose.thumbprint(await add_own_key(app, carrier))
    others_key = jose.thumbprint(await add_own_key(app, other))
    url = f"/v1/parties/{carrier.id}/keys"
    assert (await client.post(f"{url}/{own_key}/retire", headers=headers)).status_code == 200

    async with unchanged(app):
        twice = await client.post(f"{url}/{own_key}/retire", headers=headers)
        unknown = await client.post(f"{url}/{RFC8037_THUMBPRINT}/retire", headers=headers)
        foreign = await client.post(f"{url}/{others_key}/retire", headers=headers)

        assert_problem(twice, 409, "key_retired")
        assert_problem(unknown, 404, "key_not_found")
        assert_problem(foreign, 404, "key_not_found")


async def test_only_an_admin_retires_keys(identity_app: Any) -> None:
    app, client = identity_app
    carrier, headers = await party_client(app, "carrier")
    kid = jose.thumbprint(await add_own_key(app, carrier))
    async with unchanged(app):
        response = await client.post(f"/v1/parties/{carrier.id}/keys/{kid}/retire", headers=headers)
        assert_problem(response, 403, "admin_required")


# --- rotation ------------------------------------------------------------------------------------


async def test_rotating_without_a_jwk_replaces_the_custodial_key_only(identity_app: Any) -> None:
    app, client = identity_app
    _, headers = await admin_headers(app)
    carrier = await make_party(app, "carrier")
    own_kid = jose.thumbprint(await add_own_key(app, carrier))
    old = (await client.post(f"/v1/parties/{carrier.id}/keys/custodial", headers=headers)).json()

    rotated = await client.post(f"/v1/parties/{carrier.id}/keys/rotate", json={}, headers=headers)

    assert rotated.status_code == 200, rotated.text
    new = rotated.json()["key"]
    assert new["custodial"] is True and new["status"] == "active" and new["kid"] != old["kid"]
    assert [k["kid"] for k in rotated.json()["retired"]] == [old["kid"]]
    keys = {
        k["kid"]: k
        for k in (await client.get(f"/v1/parties/{carrier.id}/keys", headers=headers)).json()
    }
    assert keys[old["kid"]]["status"] == "retired"
    assert keys[own_kid]["status"] == "active"
    assert (await get_row(app, PartyKey, old["kid"])).sealed_private is None
    assert (await get_row(app, PartyKey, new["kid"])).sealed_private is not None


async def test_rotating_with_a_jwk_replaces_the_own_keys_only(identity_app: Any) -> None:
    app, client = identity_app
    _, headers = await admin_headers(app)
    carrier = await make_party(app, "carrier")
    first = jose.thumbprint(await add_own_key(app, carrier))
    second = jose.thumbprint(await add_own_key(app, carrier))
    custodial = (
        await client.post(f"/v1/parties/{carrier.id}/keys/custodial", headers=headers)
    ).json()
    jwk = fresh_public_jwk()

    rotated = await client.post(
        f"/v1/parties/{carrier.id}/keys/rotate", json={"jwk": jwk}, headers=headers
    )

    assert rotated.status_code == 200, rotated.text
    assert rotated.json()["key"]["public_jwk"] == jwk
    assert rotated.json()["key"]["custodial"] is False
    assert {k["kid"] for k in rotated.json()["retired"]} == {first, second}
    assert (await get_row(app, PartyKey, custodial["kid"])).status == KeyStatus.active
    events = [e for e in await audit_events(app) if e["type"].startswith("party_key.")]
    assert [e["type"] for e in events][-3:] == [
        "party_key.registered",
        "party_key.retired",
        "party_key.retired",
    ]


async def test_a_failed_rotation_retires_nothing(identity_app: Any) -> None:
    app, client = identity_app
    _, headers = await admin_headers(app)
    carrier = await make_party(app, "carrier")
    other = await make_party(app, "carrier")
    existing = await add_own_key(app, carrier)
    foreign = await add_own_key(app, other)
    url = f"/v1/parties/{carrier.id}/keys/rotate"

    async with unchanged(app):
        private = await client.post(url, json={"jwk": RFC8037_PRIVATE}, headers=headers)
        same = await client.post(url, json={"jwk": jose.public_jwk(existing)}, headers=headers)
        stolen = await client.post(url, json={"jwk": jose.public_jwk(foreign)}, headers=headers)
        extra = await client.post(url, json={"jwk": None, "custodial": True}, headers=headers)

        assert_problem(private, 422, "private_key_refused")
        assert_problem(same, 409, "key_exists")
        assert_problem(stolen, 409, "key_of_other_party")
        assert_problem(extra, 422, "invalid_request")


async def test_only_an_admin_rotates_keys(identity_app: Any) -> None:
    app, client = identity_app
    carrier, headers = await party_client(app, "carrier")
    async with unchanged(app):
        response = await client.post(
            f"/v1/parties/{carrier.id}/keys/rotate",
            json={"jwk": fresh_public_jwk()},
            headers=headers,
        )
        assert_problem(response, 403, "admin_required")


# --- reading -------------------------------------------------------------------------------------


async def test_any_authenticated_caller_reads_a_partys_public_keys(identity_app: Any) -> None:
    app, client = identity_app
    _, admin = await admin_headers(app)
    carrier = await make_party(app, "carrier")
    _, stranger = await party_client(app, "terminal")
    own = jose.thumbprint(await add_own_key(app, carrier))
    custodial = (
        await client.post(f"/v1/parties/{carrier.id}/keys/custodial", headers=admin)
    ).json()

    response = await client.get(f"/v1/parties/{carrier.id}/keys", headers=stranger)

    assert response.status_code == 200
    keys = response.json()
    assert [k["kid"] for k in keys] == [own, custodial["kid"]]
    for key in keys:
        assert set(key) == {
            "kid",
            "party_id",
            "public_jwk",
            "status",
            "custodial",
            "person_id",
            "created_at",
            "retired_at",
        }
        assert set(key["public_jwk"]) == {"kty", "crv", "x"}
    assert_problem(await client.get(f"/v1/parties/{carrier.id}/keys"), 401, "token_missing")
    unknown = await client.get(f"/v1/parties/{new_eori()}/keys", headers=stranger)
    assert_problem(unknown, 404, "party_not_found")


async def test_a_key_by_kid_is_public(identity_app: Any) -> None:
    app, client = identity_app
    carrier = await make_party(app, "carrier")
    private = await add_own_key(app, carrier)
    kid = jose.thumbprint(private)

    response = await client.get(f"/v1/keys/{kid}")

    assert response.status_code == 200
    assert set(response.json()) == {
        "kid",
        "party_id",
        "public_jwk",
        "status",
        "created_at",
        "retired_at",
    }
    assert response.json()["party_id"] == carrier.id
    assert response.json()["public_jwk"] == jose.public_jwk(private)
    assert "public" in response.headers["cache-control"]
    assert_problem(await client.get(f"/v1/keys/{RFC8037_THUMBPRINT}"), 404, "key_not_found")


# --- CLI -----------------------------------------------------------------------------------------


async def test_the_cli_adds_rotates_and_retires_keys(
    identity_app: Any, cli_env: None, tmp_path: Path
) -> None:
    app, _ = identity_app
    carrier = await make_party(app, "carrier")
    jwk_file = tmp_path / "key.jwk"
    jwk_file.write_text(json.dumps(RFC8037_PUBLIC), encoding="utf-8")
    next_file = tmp_path / "next.jwk"
    next_jwk = fresh_public_jwk()
    next_file.write_text(json.dumps(next_jwk), encoding="utf-8")

    added = await invoke_cli(cli, ["add", carrier.id, str(jwk_file)])
    custodial = await invoke_cli(cli, ["add", carrier.id, "--custodial"])
    rotated = await invoke_cli(cli, ["rotate", carrier.id, "--jwk", str(next_file)])
    rotated_custodial = await invoke_cli(cli, ["rotate", carrier.id])
    next_kid = jose.thumbprint(next_jwk)
    # A kid is base64url and may start with "-": "--" ends the options.
    retired = await invoke_cli(cli, ["retire", "--", carrier.id, next_kid])

    for result in (added, custodial, rotated, rotated_custodial, retired):
        assert result.exit_code == 0, result.output
    assert RFC8037_THUMBPRINT in added.output
    assert (await get_row(app, PartyKey, RFC8037_THUMBPRINT)).status == KeyStatus.retired
    assert (await get_row(app, PartyKey, next_kid)).status == KeyStatus.retired
    async with app.state.sessions() as session:
        keys = (await session.exec(select(PartyKey).where(PartyKey.party_id == carrier.id))).all()
    assert sorted((k.custodial, k.status) for k in keys) == [
        (False, "retired"),
        (False, "retired"),
        (True, "active"),
        (True, "retired"),
    ]
    events = [e for e in await audit_events(app) if e["type"].startswith("party_key.")]
    assert len(events) == 7  # registered, created, registered+retired, created+retired, retired
    assert {e["actor"] for e in events} == {cli_actor()}


async def test_the_cli_refuses_bad_keys_and_bad_arguments(
    identity_app: Any, cli_env: None, tmp_path: Path
) -> None:
    app, _ = identity_app
    carrier = await make_party(app, "carrier")
    private_file = tmp_path / "private.jwk"
    private_file.write_text(json.dumps(RFC8037_PRIVATE), encoding="utf-8")
    not_json = tmp_path / "garbage.jwk"
    not_json.write_text("{not json", encoding="utf-8")

    async with unchanged(app):
        private = await invoke_cli(cli, ["add", carrier.id, str(private_file)])
        garbage = await invoke_cli(cli, ["add", carrier.id, str(not_json)])
        neither = await invoke_cli(cli, ["add", carrier.id])
        both = await invoke_cli(cli, ["add", carrier.id, str(private_file), "--custodial"])
        unknown = await invoke_cli(cli, ["retire", carrier.id, RFC8037_THUMBPRINT])

        assert private.exit_code == 1 and "private_key_refused" in private.output
        assert RFC8037_PRIVATE["d"] not in private.output
        assert garbage.exit_code == 2
        assert neither.exit_code == 2 and both.exit_code == 2
        assert unknown.exit_code == 1 and "key_not_found" in unknown.output


def test_a_key_notice_has_a_view_only_once_stored() -> None:
    notice = KeyNotice(party_id="EU.EORI.NL1", kid="k", event="registered", actor="t", detail={})
    with pytest.raises(ValueError, match="stored"):
        KeyNoticeView.of(notice)
    notice.id = 7
    assert KeyNoticeView.of(notice).notice_id == 7
