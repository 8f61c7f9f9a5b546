"""A well-known OAuth client library against the token endpoint: Authlib's `PrivateKeyJWT`
as docs/integration.md configures it (the snippet is read from the guide and run here, so the
two cannot drift), then a call to the release service with the token it got.
"""

import re
import time
import warnings
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from authlib.deprecate import AuthlibDeprecationWarning  # type: ignore[import-untyped]
from authlib.integrations.base_client import OAuthError  # type: ignore[import-untyped]
from authlib.oauth2.rfc7523 import PrivateKeyJWT  # type: ignore[import-untyped]

from shared import jose
from tests.conftest import SettingsFactory
from tests.release.port import Member, Port, make_port, new_container

with warnings.catch_warnings():
    # Authlib 1.9 warns on import that it falls back from the httpx2 fork to httpx; httpx is
    # what this project uses, and Authlib still supports it: the warning is about Authlib's
    # future, not about anything this test could do otherwise.
    warnings.simplefilter("ignore", AuthlibDeprecationWarning)
    from authlib.integrations.httpx_client import AsyncOAuth2Client  # type: ignore[import-untyped]

GUIDE = Path(__file__).parents[2] / "docs" / "integration.md"
SNIPPET_MARK = "<!-- the Authlib client: run by tests/identity/test_authlib_client.py -->"

IDENTITY = "http://identity.test"
RELEASE = "http://release.test"

ClientFactory = Callable[..., AsyncOAuth2Client]


def guide_snippet() -> str:
    """The Python block that follows the mark in the integration guide."""
    text = GUIDE.read_text(encoding="utf-8")
    found = re.search(re.escape(SNIPPET_MARK) + r"\s*```python\n(.*?)```", text, re.DOTALL)
    assert found, f"{GUIDE.name} lost its Authlib snippet"
    return found.group(1)


def guide_namespace() -> dict[str, Any]:
    """What the guide's snippet defines, run as a reader would paste it."""
    namespace: dict[str, Any] = {}
    exec(compile(guide_snippet(), str(GUIDE), "exec"), namespace)
    return namespace


@pytest.fixture(scope="module")
def ketenpas_client() -> ClientFactory:
    """The guide's `ketenpas_client`, built from the guide's own code."""
    factory: ClientFactory = guide_namespace()["ketenpas_client"]
    return factory


@pytest.fixture
async def port(make_settings: SettingsFactory) -> AsyncIterator[Port]:
    """Both services, each behind its own host name."""
    async with make_port(make_settings) as port:
        yield port


def client_of(port: Port, factory: ClientFactory, member: Member, **options: Any) -> Any:
    """The guide's client for a member's own key, reaching both services in process."""
    mounts = {
        IDENTITY: httpx.ASGITransport(app=port.identity),
        RELEASE: httpx.ASGITransport(app=port.release),
    }
    return factory(
        member.id, member.key, port.identity.state.settings.issuer, mounts=mounts, **options
    )


async def fetch_token(client: AsyncOAuth2Client, **params: str) -> dict[str, Any]:
    token: dict[str, Any] = await client.fetch_token(
        f"{IDENTITY}/v1/token", grant_type="client_credentials", **params
    )
    return token


@pytest.mark.parametrize("with_kid", [True, False], ids=["kid", "no kid"])
async def test_authlib_gets_a_token_and_the_terminal_announces_a_yard_entry(
    port: Port, ketenpas_client: ClientFactory, with_kid: bool
) -> None:
    terminal = port["terminal"]
    client = client_of(port, ketenpas_client, terminal, kid=terminal.kid if with_kid else None)
    async with client:
        token = await fetch_token(client)
        container = new_container()
        response = await client.post(
            f"{RELEASE}/v1/yard/entries",
            json={"container": container, "shipping_line": port["line"].id},
        )

    assert token["token_type"] == "Bearer"
    assert token["scope"] == "gate holds:write releases:read subscriptions:manage"
    assert response.status_code == 201, response.text
    assert response.json()["container"] == container
    _, claims = jose.peek(token["access_token"])
    assert claims["sub"] == terminal.id


async def test_every_assertion_authlib_signs_is_a_new_one(
    port: Port, ketenpas_client: ClientFactory
) -> None:
    line = port["line"]
    async with client_of(port, ketenpas_client, line) as client:
        first = await fetch_token(client, scope="releases:read")
        second = await fetch_token(client, scope="releases:read")

    assert first["access_token"] != second["access_token"]
    assert first["scope"] == second["scope"] == "releases:read"


async def test_authlib_as_configured_by_default_is_refused_saying_why(port: Port) -> None:
    # What a newcomer tries first: Authlib's defaults (an hour, aud = the token endpoint URL,
    # no kid), with only the algorithm switched to Ed25519.
    terminal = port["terminal"]
    mounts = {IDENTITY: httpx.ASGITransport(app=port.identity)}
    client = AsyncOAuth2Client(
        terminal.id, terminal.key, token_endpoint_auth_method="private_key_jwt", mounts=mounts
    )
    client.register_client_auth_method(PrivateKeyJWT(alg="Ed25519"))
    async with client:
        with pytest.raises(OAuthError) as refused:
            await fetch_token(client)

    assert refused.value.error == "invalid_client"
    assert "deliberate (iSHARE)" in str(refused.value.description)


def test_the_guide_configures_30_seconds_and_the_issuer_as_audience() -> None:
    key = jose.generate_key()
    auth = guide_namespace()["KetenpasPrivateKeyJWT"](
        "urn:issuer", headers={"kid": jose.thumbprint(key)}
    )
    holder = type("Auth", (), {"client_id": "EU.EORI.NL1", "client_secret": key})()

    header, claims = jose.peek(auth.sign(holder, "urn:issuer"))

    assert header == {"alg": "Ed25519", "typ": "JWT", "kid": jose.thumbprint(key)}
    assert claims["exp"] - claims["iat"] == 30
    assert claims["iat"] <= time.time() + 1
    assert (claims["iss"], claims["sub"], claims["aud"]) == ("EU.EORI.NL1",) * 2 + ("urn:issuer",)
