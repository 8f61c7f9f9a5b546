"""Threat: an assertion without `kid` makes the token endpoint try keys itself, so an insider
signs one with a key that may not authenticate the party's API client (a key whose credential
was never issued or is suspended, a retired key, a driver's device key, another party's key)
and hopes one of the keys tried lets it through.

Refused: only the claimed party's active API-client keys that hold a valid credential of the
party are tried, and the signature must verify with one of them; so trying several gives
nothing that naming one would not. Nothing is spent by a refusal.
"""

import time

import httpx
import pytest
from fastapi import FastAPI
from joserfc.jwk import OKPKey
from sqlmodel import func, select

from services.identity.clock import current_time
from services.identity.credentials import service as credentials
from services.identity.keys.models import KeyStatus, PartyKey
from services.identity.oauth.models import UsedAssertion
from services.identity.parties.models import Party
from shared import jose
from shared.db import transaction
from shared.models import utcnow
from tests.identity.factories import add_certified_key, add_own_key, make_party, make_person
from tests.identity.oauth_factories import assertion_claims, compact, request_token
from tests.release.port import add_device_key


def kidless(key: OKPKey, party: Party, app: FastAPI, now: int) -> str:
    """An assertion in the party's name without kid (as Authlib writes by default)."""
    claims = assertion_claims(party.id, app.state.settings.issuer, now)
    return compact({"alg": "Ed25519", "typ": "JWT"}, claims, key)


async def refused(app: FastAPI, client: httpx.AsyncClient, assertion: str) -> str:
    """The refusal's code; the refusal spent nothing."""
    response = await request_token(client, assertion)
    assert response.status_code == 401, response.text
    async with transaction(app.state.sessions) as session:
        spent = (await session.exec(select(func.count()).select_from(UsedAssertion))).one()
    assert spent == 0
    return str(response.json()["code"])


@pytest.fixture
async def carrier(identity_app: tuple[FastAPI, httpx.AsyncClient]) -> tuple[Party, int]:
    """A carrier with one certified key, and the identity service's fixed time."""
    app, _ = identity_app
    now = int(time.time())
    app.dependency_overrides[current_time] = lambda: float(now)
    party = await make_party(app, "carrier")
    await add_certified_key(app, party)
    return party, now


async def test_a_key_without_credential_is_not_tried(
    identity_app: tuple[FastAPI, httpx.AsyncClient], carrier: tuple[Party, int]
) -> None:
    app, client = identity_app
    party, now = carrier
    uncertified = await add_own_key(app, party)

    assert await refused(app, client, kidless(uncertified, party, app, now)) == (
        "token_bad_signature"
    )


async def test_a_party_whose_keys_hold_no_credential_has_no_key_to_try(
    identity_app: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    app, client = identity_app
    party = await make_party(app, "carrier")
    key = await add_own_key(app, party)

    assert await refused(app, client, kidless(key, party, app, int(time.time()))) == (
        "assertion_no_key_to_try"
    )


async def test_another_partys_certified_key_is_not_tried(
    identity_app: tuple[FastAPI, httpx.AsyncClient], carrier: tuple[Party, int]
) -> None:
    app, client = identity_app
    party, now = carrier
    other = await make_party(app, "carrier")
    other_key = await add_certified_key(app, other)

    assert await refused(app, client, kidless(other_key, party, app, now)) == (
        "token_bad_signature"
    )


async def test_a_drivers_device_key_is_not_tried(
    identity_app: tuple[FastAPI, httpx.AsyncClient], carrier: tuple[Party, int]
) -> None:
    app, client = identity_app
    party, now = carrier
    driver = await make_person(app, party, "driver")
    device_key = await add_device_key(app, driver)

    assert await refused(app, client, kidless(device_key, party, app, now)) == (
        "token_bad_signature"
    )


async def test_a_retired_key_is_not_tried(
    identity_app: tuple[FastAPI, httpx.AsyncClient], carrier: tuple[Party, int]
) -> None:
    app, client = identity_app
    party, now = carrier
    retired = await add_certified_key(app, party)
    async with transaction(app.state.sessions) as session:
        row = await session.get(PartyKey, jose.thumbprint(retired))
        assert row is not None
        row.status = KeyStatus.retired
        session.add(row)

    assert await refused(app, client, kidless(retired, party, app, now)) == "token_bad_signature"


async def test_a_key_whose_credential_is_suspended_is_not_tried(
    identity_app: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    app, client = identity_app
    party = await make_party(app, "carrier")
    key = await add_certified_key(app, party)
    async with transaction(app.state.sessions) as session:
        [credential] = await credentials.list_party_credentials(
            session, party_id=party.id, settings=app.state.settings
        )
        await credentials.suspend_credential(
            session,
            credential_id=credential.credential.id,
            settings=app.state.settings,
            actor="test",
            now=utcnow(),
        )

    assert await refused(app, client, kidless(key, party, app, int(time.time()))) == (
        "assertion_no_key_to_try"
    )
