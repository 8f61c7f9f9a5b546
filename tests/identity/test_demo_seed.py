"""The demo port: what it holds, and that its printed credentials really work."""

import time
from collections import Counter
from typing import Any

import httpx
import pyotp
import pytest
from fastapi import FastAPI

from services.identity import demo
from services.identity.settings import IdentitySettings
from shared import jose
from shared.credentials import decode_status_list_token, verify_credential
from shared.db import transaction
from shared.models import utcnow
from shared.verifier_cache import VerifierCache
from tests.identity.oauth_factories import request_token, sign_assertion

App = tuple[FastAPI, httpx.AsyncClient]


async def seeded(app: FastAPI) -> dict[str, Any]:
    async with transaction(app.state.sessions) as session:
        assert not await demo.is_seeded(session)
        document = await demo.seed(session, app.state.settings, utcnow())
    async with transaction(app.state.sessions) as session:
        assert await demo.is_seeded(session)
    app.state.keyring.invalidate()
    return document


async def test_the_demo_port_has_every_kind_of_party_and_drivers_for_each_carrier(
    identity_app: App,
) -> None:
    app, _ = identity_app
    document = await seeded(app)
    roles = Counter(role for party in document["parties"] for role in party["roles"])
    assert roles == Counter(
        shipping_line=1, forwarder=2, carrier=3, terminal=1, customs=1, port_security=1, admin=1
    )
    carriers = [p["party_id"] for p in document["parties"] if "carrier" in p["roles"]]
    for carrier in carriers:
        drivers = [
            p for p in document["people"] if p["party_id"] == carrier and p["role"] == "driver"
        ]
        assert drivers, carrier
    for party in document["parties"]:
        assert {"party_id", "name", "roles", "private_jwk"} <= set(party)
        assert party["private_jwk"]["kty"] == "OKP" and "d" in party["private_jwk"]
        assert any(p["party_id"] == party["party_id"] for p in document["people"])
    for person in document["people"]:
        assert {"person_id", "party_id", "role", "username", "password", "totp_secret"} <= set(
            person
        )
    assert document["issuer"] == app.state.settings.issuer


async def test_a_demo_party_gets_a_token_with_its_private_key(identity_app: App) -> None:
    app, client = identity_app
    document = await seeded(app)
    carrier = next(p for p in document["parties"] if "carrier" in p["roles"])
    key = jose.import_key(carrier["private_jwk"])
    assertion = sign_assertion(key, carrier["party_id"], document["issuer"], int(time.time()))
    response = await request_token(client, assertion)
    assert response.status_code == 200, response.text


async def test_a_demo_person_signs_in_with_the_printed_password_and_totp(identity_app: App) -> None:
    app, client = identity_app
    document = await seeded(app)
    driver = next(p for p in document["people"] if p["role"] == "driver")
    response = await client.post(
        "/v1/sessions",
        json={
            "username": driver["username"],
            "password": driver["password"],
            "otp": pyotp.TOTP(driver["totp_secret"]).now(),
        },
    )
    assert response.status_code == 200, response.text


async def test_demo_credentials_verify_against_the_published_status_list(
    identity_app: App,
) -> None:
    app, client = identity_app
    document = await seeded(app)
    jwks = (await client.get("/.well-known/jwks.json")).json()
    keys = {jwk["kid"]: jose.import_key(jwk) for jwk in jwks["keys"]}
    issuer = document["issuer"]
    party = document["parties"][0]
    _, claims = jose.peek(party["credential"])
    uri = claims["status"]["status_list"]["uri"]
    status_list = decode_status_list_token(
        (await client.get(uri.removeprefix(issuer))).text,
        resolve_key=keys.get,
        issuer=issuer,
        now=time.time(),
    )
    verified = verify_credential(
        party["credential"],
        cache=VerifierCache(),
        resolve_key=keys.get,
        issuer=issuer,
        status_lists={uri: status_list},
        now=time.time(),
    )
    assert verified.party_id == party["party_id"]
    assert verified.kid == party["kid"]


async def test_the_demo_seed_refuses_outside_development(identity_app: App) -> None:
    app, _ = identity_app
    production = IdentitySettings(
        environment="production",
        log_signing_key="AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
        key_encryption_key="AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
        screening_key="AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
        cache_url="redis://127.0.0.1:6379/0",  # production refuses an in-process cache
    )
    async with transaction(app.state.sessions) as session:
        with pytest.raises(RuntimeError, match="development"):
            await demo.seed(session, production, utcnow())
