"""Custodial signing: a signed-in person signs links and acceptances with his party's key."""

import base64
import hashlib
import logging
import time
import uuid
from typing import Any

import httpx
import pytest
from joserfc.jwk import OKPKey
from sqlmodel import select

from services.identity.keys import service as keys_service
from services.identity.keys.models import PartyKey
from services.identity.parties.models import Party
from services.identity.sealing import unseal
from shared import jose
from shared.db import transaction
from shared.problems import Conflict, NotFound
from tests.helpers import assert_problem, b64url
from tests.identity.assertions import audit_events, get_row, unchanged
from tests.identity.factories import (
    admin_headers,
    bearer,
    client_token,
    make_party,
    make_person,
    person_token,
)

LINK = "ketenpas-link+jwt"
ACK = "ketenpas-ack+jwt"


def link_claims(party: Party, **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "release_id": str(uuid.uuid4()),
        "container": "MSKU1234565",
        "seq": 1,
        "kind": "handover",
        "from": party.id,
        "to": "EU.EORI.NL999999999",
        "prev": b64url(hashlib.sha256(b"the previous link").digest()),
        "iat": now,
        "exp": now + 600,
        "jti": str(uuid.uuid4()),
    }
    claims.update(overrides)
    return claims


async def custodial_party(app: Any, client: httpx.AsyncClient) -> tuple[Party, dict[str, Any]]:
    """A carrier with a custodial key (made over the API); returns the party and key view."""
    _, admin = await admin_headers(app)
    party = await make_party(app, "carrier")
    response = await client.post(f"/v1/parties/{party.id}/keys/custodial", headers=admin)
    assert response.status_code == 201
    return party, response.json()


async def signer(app: Any, party: Party, role: str = "dispatcher") -> tuple[Any, dict[str, str]]:
    """A person of the party and his Authorization header."""
    person = await make_person(app, party, role)
    return person, bearer(await person_token(app, person, party))


def verify(jws: str, typ: str, public_jwk: dict[str, Any]) -> jose.VerifiedToken:
    """Verify with the published public key only."""
    key = jose.import_key(public_jwk)
    return jose.verify(
        jws, typ=typ, resolve_key=lambda kid: key if kid == jose.thumbprint(key) else None
    )


async def test_a_person_signs_a_link_with_his_partys_custodial_key(identity_app: Any) -> None:
    app, client = identity_app
    party, key = await custodial_party(app, client)
    person, headers = await signer(app, party)
    claims = link_claims(party)

    response = await client.post("/v1/sign", json={"typ": LINK, "claims": claims}, headers=headers)

    assert response.status_code == 200, response.text
    signed = response.json()
    assert signed["kid"] == key["kid"]
    published = (await client.get(f"/v1/keys/{key['kid']}")).json()["public_jwk"]
    verified = verify(signed["jws"], LINK, published)
    # What the service signs: the claims, its own `iat`, and the person named in `act`.
    assert abs(verified.claims["iat"] - claims["iat"]) <= 5
    assert verified.claims == {
        **claims,
        "iat": verified.claims["iat"],
        "act": {"sub": str(person.id)},
    }
    assert verified.header == {"alg": "Ed25519", "typ": LINK, "kid": key["kid"]}
    [event] = await audit_events(app, "party_key.signed")
    assert event["actor"] == f"person:{person.id}" and event["person_id"] == str(person.id)
    assert event["party_id"] == party.id and event["typ"] == LINK
    assert event["kid"] == key["kid"] and event["jti"] == claims["jti"]
    assert event["jws_hash"] == b64url(hashlib.sha256(signed["jws"].encode()).digest())


async def test_a_dispatcher_signs_an_acceptance(identity_app: Any) -> None:
    app, client = identity_app
    party, key = await custodial_party(app, client)
    person, headers = await signer(app, party, "dispatcher")
    claims = {
        "link": b64url(hashlib.sha256(b"a link").digest()),
        "iat": int(time.time()),
        "jti": str(uuid.uuid4()),
    }

    response = await client.post("/v1/sign", json={"typ": ACK, "claims": claims}, headers=headers)

    assert response.status_code == 200, response.text
    signed = verify(response.json()["jws"], ACK, key["public_jwk"]).claims
    assert abs(signed["iat"] - claims["iat"]) <= 5
    assert signed == {
        **claims,
        "iat": signed["iat"],
        "exp": signed["iat"] + 3600,
        "act": {"sub": str(person.id)},
    }
    with pytest.raises(jose.TokenError):  # a signature of one type is no other type
        verify(response.json()["jws"], LINK, key["public_jwk"])


async def test_a_party_client_cannot_use_custodial_signing(identity_app: Any) -> None:
    app, client = identity_app
    party, _ = await custodial_party(app, client)
    headers = bearer(await client_token(app, party))
    async with unchanged(app):
        response = await client.post(
            "/v1/sign", json={"typ": LINK, "claims": link_claims(party)}, headers=headers
        )
        assert_problem(response, 403, "person_required")
        assert_problem(
            await client.post("/v1/sign", json={"typ": LINK, "claims": {}}), 401, "token_missing"
        )


async def test_without_an_active_custodial_key_nothing_is_signed(identity_app: Any) -> None:
    app, client = identity_app
    _, admin = await admin_headers(app)
    own_keys_only = await make_party(app, "carrier")
    _, own_headers = await signer(app, own_keys_only)
    retired, key = await custodial_party(app, client)
    _, retired_headers = await signer(app, retired)
    await client.post(f"/v1/parties/{retired.id}/keys/{key['kid']}/retire", headers=admin)

    async with unchanged(app):
        for party, headers in ((own_keys_only, own_headers), (retired, retired_headers)):
            response = await client.post(
                "/v1/sign", json={"typ": LINK, "claims": link_claims(party)}, headers=headers
            )
            assert_problem(response, 409, "no_custodial_key")


async def test_people_of_a_suspended_party_and_suspended_people_cannot_sign(
    identity_app: Any,
) -> None:
    app, client = identity_app
    _, admin = await admin_headers(app)
    party, _ = await custodial_party(app, client)
    person, headers = await signer(app, party)
    body = {"typ": LINK, "claims": link_claims(party)}

    await client.post(f"/v1/people/{person.id}/suspend", headers=admin)
    person_suspended = await client.post("/v1/sign", json=body, headers=headers)
    await client.post(f"/v1/people/{person.id}/reinstate", headers=admin)
    await client.post(f"/v1/parties/{party.id}/suspend", headers=admin)
    async with unchanged(app):
        party_suspended = await client.post("/v1/sign", json=body, headers=headers)

        assert_problem(person_suspended, 401, "person_not_active")
        assert_problem(party_suspended, 401, "party_not_active")


async def test_sign_as_party_signs_only_for_an_active_known_party(identity_app: Any) -> None:
    app, client = identity_app
    party, key = await custodial_party(app, client)
    settings = app.state.settings
    claims = link_claims(party)

    # The caller appends the audit event, not this: signing changes nothing.
    async with unchanged(app), transaction(app.state.sessions) as session:
        jws, kid = await keys_service.sign_as_party(
            session, settings=settings, party_id=party.id, typ=LINK, claims=claims
        )
    assert kid == key["kid"]
    assert verify(jws, LINK, key["public_jwk"]).claims == claims

    async with transaction(app.state.sessions) as session:
        stored = await session.get(Party, party.id)
        assert stored is not None
        stored.status = "suspended"
        session.add(stored)
    async with transaction(app.state.sessions) as session:
        with pytest.raises(Conflict) as inactive:
            await keys_service.sign_as_party(
                session, settings=settings, party_id=party.id, typ=LINK, claims=claims
            )
        with pytest.raises(NotFound):
            await keys_service.sign_as_party(
                session, settings=settings, party_id="EU.EORI.NL000000000", typ=LINK, claims=claims
            )
    assert inactive.value.code == "party_not_active"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"typ": "ketenpas-credential+jwt", "claims": {}}, "invalid_request"),
        ({"typ": "at+jwt", "claims": {}}, "invalid_request"),
        ({"typ": "ketenpas-gatepass+jwt", "claims": {}}, "invalid_request"),
        ({"claims": {}}, "invalid_request"),
        ({"typ": ACK}, "invalid_request"),
        ({"typ": ACK, "claims": ["link"]}, "invalid_request"),
        ({"typ": ACK, "claims": "eyJ9"}, "invalid_request"),
        ({"typ": ACK, "claims": None}, "invalid_request"),
        ({"typ": ACK, "claims": {}, "kid": "mine"}, "invalid_request"),
        ({"typ": ACK, "claims": {"blob": "x" * 9000}}, "claims_too_large"),
        ({"typ": LINK, "claims": {"from": "EU.EORI.NL999999999"}}, "claims_from_mismatch"),
        ({"typ": LINK, "claims": {"to": "EU.EORI.NL999999999"}}, "claims_from_mismatch"),
    ],
)
async def test_bad_sign_requests_are_refused_without_state_change(
    identity_app: Any, body: dict[str, Any], code: str
) -> None:
    app, client = identity_app
    party, _ = await custodial_party(app, client)
    _, headers = await signer(app, party)
    async with unchanged(app):
        response = await client.post("/v1/sign", json=body, headers=headers)
        assert_problem(response, 422, code)


@pytest.mark.parametrize(
    "claims",
    [
        b'{"iat": NaN}',
        b'{"iat": Infinity}',
        b'{"jti": "\\ud800"}',
        b'{"nested": ' + b"[" * 3000 + b"]" * 3000 + b"}",
    ],
    ids=["nan", "infinity", "lone-surrogate", "deep"],
)
async def test_claims_that_are_not_plain_json_are_refused(identity_app: Any, claims: bytes) -> None:
    app, client = identity_app
    party, _ = await custodial_party(app, client)
    _, headers = await signer(app, party)
    content = b'{"typ": "' + ACK.encode() + b'", "claims": ' + claims + b"}"
    async with unchanged(app):
        response = await client.post(
            "/v1/sign", content=content, headers={**headers, "content-type": "application/json"}
        )
        assert 400 <= response.status_code < 500, response.text
        assert response.headers["content-type"].startswith("application/problem+json")


async def test_rotation_keeps_old_signatures_valid_and_signs_new_ones_with_the_new_key(
    identity_app: Any,
) -> None:
    app, client = identity_app
    _, admin = await admin_headers(app)
    party, old = await custodial_party(app, client)
    _, headers = await signer(app, party)
    before_rotation = await client.post(
        "/v1/sign", json={"typ": LINK, "claims": link_claims(party)}, headers=headers
    )

    rotated = await client.post(f"/v1/parties/{party.id}/keys/rotate", json={}, headers=admin)
    after_rotation = await client.post(
        "/v1/sign", json={"typ": LINK, "claims": link_claims(party)}, headers=headers
    )

    new = rotated.json()["key"]
    assert after_rotation.json()["kid"] == new["kid"] != old["kid"]
    old_published = (await client.get(f"/v1/keys/{old['kid']}")).json()
    assert old_published["status"] == "retired"
    verify(before_rotation.json()["jws"], LINK, old_published["public_jwk"])
    verify(after_rotation.json()["jws"], LINK, new["public_jwk"])
    with pytest.raises(jose.TokenError):  # the new signature is not the old key's
        verify(after_rotation.json()["jws"], LINK, old_published["public_jwk"])
    assert (await get_row(app, PartyKey, old["kid"])).sealed_private is None


async def test_a_sealed_key_moved_to_another_row_does_not_sign(identity_app: Any) -> None:
    app, client = identity_app
    victim, victim_key = await custodial_party(app, client)
    thief, thief_key = await custodial_party(app, client)
    _, headers = await signer(app, thief)
    # Someone with database access copies the victim's sealed key into his own key's row.
    async with transaction(app.state.sessions) as session:
        rows = {
            row.kid: row
            for row in (await session.exec(select(PartyKey))).all()
            if row.kid in (victim_key["kid"], thief_key["kid"])
        }
        rows[thief_key["kid"]].sealed_private = rows[victim_key["kid"]].sealed_private
        session.add(rows[thief_key["kid"]])

    async with unchanged(app):
        response = await client.post(
            "/v1/sign", json={"typ": LINK, "claims": link_claims(thief)}, headers=headers
        )

        assert_problem(response, 500, "custodial_key_unusable")
        assert "jws" not in response.json()
    assert victim.id != thief.id


async def test_custodial_private_keys_never_appear_in_responses_audit_events_or_logs(
    identity_app: Any, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    app, client = identity_app
    caplog.set_level(logging.DEBUG)
    bodies: list[str] = []

    async def keep(response: httpx.Response) -> None:
        await response.aread()
        bodies.append(f"{response.headers}\n{response.text}")

    client.event_hooks["response"].append(keep)
    _, admin = await admin_headers(app)
    party = await make_party(app, "carrier")
    _, headers = await signer(app, party)
    created = await client.post(f"/v1/parties/{party.id}/keys/custodial", headers=admin)
    kid = created.json()["kid"]
    stored = await get_row(app, PartyKey, kid)
    sealed = bytes(stored.sealed_private)
    pem = unseal(app.state.settings.kek_bytes(), sealed, bound_to=f"party_keys:{party.id}:{kid}")
    private = OKPKey.import_key(pem)
    d = str(private.as_dict(private=True)["d"])
    raw = base64.urlsafe_b64decode(d + "=" * (-len(d) % 4))

    await client.get(f"/v1/parties/{party.id}/keys", headers=admin)
    await client.get(f"/v1/keys/{kid}")
    await client.post("/v1/sign", json={"typ": LINK, "claims": link_claims(party)}, headers=headers)
    await client.post("/v1/sign", json={"typ": LINK, "claims": {"x": "y" * 9000}}, headers=headers)
    await client.post(f"/v1/parties/{party.id}/keys/custodial", headers=admin)
    await client.post(f"/v1/parties/{party.id}/keys/rotate", json={}, headers=admin)
    await client.post(f"/v1/parties/{party.id}/keys/{kid}/retire", headers=admin)
    await client.get(f"/v1/keys/{kid}")
    await client.get(f"/v1/parties/{party.id}", headers=admin)

    assert len(bodies) == 10
    secrets = {
        "d (base64url)": d,
        "d (base64)": base64.b64encode(raw).decode().rstrip("="),
        "d (hex)": raw.hex(),
        "d (HEX)": raw.hex().upper(),
        "PEM": pem.decode().splitlines()[1],
        "sealed (base64)": base64.b64encode(sealed).decode()[:40],
        "sealed (base64url)": b64url(sealed)[:40],
        "sealed (hex)": sealed.hex()[:40],
    }
    events = "\n".join(str(event) for event in await audit_events(app))
    captured = capsys.readouterr()
    haystacks = {
        "responses": "\n".join(bodies),
        "audit events": events,
        "log records": caplog.text + "\n".join(str(r.__dict__) for r in caplog.records),
        "stdout": captured.out,
        "stderr": captured.err,
    }
    for where, text in haystacks.items():
        for what, secret in secrets.items():
            assert secret not in text, f"{what} found in {where}"
