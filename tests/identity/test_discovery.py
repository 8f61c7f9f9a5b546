"""GET /.well-known/oauth-authorization-server (RFC 8414) and a client that follows it."""

import time
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi import FastAPI

from services.identity.oauth.service import SCOPES, SCOPES_BY_ROLE
from services.identity.parties.models import PartyRole
from services.registry import SERVICES
from shared import jose
from shared.auth import verify_access_token
from tests.conftest import SettingsFactory, running
from tests.identity.factories import add_certified_key, add_own_key, make_party
from tests.identity.oauth_factories import ASSERTION_TYPE, request_token, sign_assertion

METADATA = "/.well-known/oauth-authorization-server"


async def test_metadata_describes_the_token_endpoint_and_its_client_authentication(
    identity_app: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    app, client = identity_app
    response = await client.get(METADATA)

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"].startswith("public")
    base = app.state.settings.public_url
    assert response.json() == {
        "issuer": app.state.settings.issuer,
        "token_endpoint": f"{base}/v1/token",
        "jwks_uri": f"{base}/.well-known/jwks.json",
        "grant_types_supported": ["client_credentials"],
        "token_endpoint_auth_methods_supported": ["private_key_jwt"],
        "token_endpoint_auth_signing_alg_values_supported": ["Ed25519", "EdDSA"],
        "scopes_supported": sorted(SCOPES),
        # RFC 8414 §2 requires the member; no authorization endpoint means no response type.
        "response_types_supported": [],
    }


def test_every_party_role_has_scopes() -> None:
    assert set(SCOPES_BY_ROLE) == set(PartyRole)
    assert all(SCOPES_BY_ROLE[role] for role in PartyRole)


@pytest.fixture
async def public_identity_app(
    make_settings: SettingsFactory,
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """The identity service as deployed behind a public name and a separate issuer id."""
    settings = make_settings(
        "identity", public_url="https://identity.port.example", issuer="https://port.example"
    )
    app = SERVICES["identity"].create_app(settings)
    async with running(app) as client:
        yield app, client


async def test_metadata_follows_the_configured_issuer_and_public_url(
    public_identity_app: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    _, client = public_identity_app
    metadata = (await client.get(METADATA)).json()
    assert metadata["issuer"] == "https://port.example"
    assert metadata["token_endpoint"] == "https://identity.port.example/v1/token"
    assert metadata["jwks_uri"] == "https://identity.port.example/.well-known/jwks.json"


async def test_a_client_that_only_knows_the_metadata_gets_and_checks_a_token(
    public_identity_app: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    app, client = public_identity_app
    party = await make_party(app, "terminal")
    key = await add_certified_key(app, party)
    now = int(time.time())

    metadata = (await client.get(METADATA)).json()
    assert "private_key_jwt" in metadata["token_endpoint_auth_methods_supported"]
    assertion = sign_assertion(key, party.id, metadata["issuer"], now)
    response = await client.post(
        urlsplit(metadata["token_endpoint"]).path,
        data={
            "grant_type": metadata["grant_types_supported"][0],
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": assertion,
            "scope": "gate",
        },
    )
    assert response.status_code == 200, response.text

    jwks = (await client.get(urlsplit(metadata["jwks_uri"]).path)).json()
    keys = {entry["kid"]: jose.import_key(entry) for entry in jwks["keys"]}
    principal = verify_access_token(
        response.json()["access_token"],
        issuer=metadata["issuer"],
        resolve_key=keys.get,
        now=now,
    )
    assert (principal.party_id, principal.scopes) == (party.id, frozenset({"gate"}))


async def test_an_assertion_for_the_public_url_instead_of_the_issuer_is_refused(
    public_identity_app: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    app, client = public_identity_app
    party = await make_party(app, "terminal")
    key = await add_own_key(app, party)
    assertion = sign_assertion(key, party.id, "https://identity.port.example", int(time.time()))
    response = await request_token(client, assertion)
    assert response.status_code == 401
    assert response.json()["code"] == "assertion_wrong_audience"
