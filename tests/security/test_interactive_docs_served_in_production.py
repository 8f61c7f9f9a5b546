"""Threat: production pages that run a third party's scripts and invite requests.

Swagger UI and ReDoc load their scripts from a public CDN into a page of the service's own
origin, and give whoever holds a token (a corrupt employee, or someone who found one) a
console. Production serves neither; the OpenAPI document stays, because integrators build
their clients from it and it holds nothing secret (every endpoint authorises for itself).
"""

import base64

import httpx
import pytest
from pydantic import SecretStr

from services.registry import SERVICES
from tests.conftest import SettingsFactory

REAL_KEY = SecretStr(base64.b64encode(bytes(range(32))).decode())


@pytest.mark.parametrize("service", ["identity", "release"])
async def test_production_serves_no_interactive_docs_but_the_openapi_document(
    make_settings: SettingsFactory, service: str
) -> None:
    settings = make_settings(service, environment="production", log_signing_key=REAL_KEY)
    app = SERVICES[service].create_app(settings)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        for path in ("/docs", "/redoc", "/docs/oauth2-redirect"):
            answer = await client.get(path)
            assert answer.status_code == 404, path
            assert "swagger" not in answer.text.lower() and "redoc" not in answer.text.lower()
        document = await client.get("/openapi.json")
        assert document.status_code == 200
        assert document.json()["paths"]


@pytest.mark.parametrize("service", ["identity", "release"])
async def test_development_keeps_the_interactive_docs(
    make_settings: SettingsFactory, service: str
) -> None:
    app = SERVICES[service].create_app(make_settings(service))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        assert (await client.get("/docs")).status_code == 200
        assert (await client.get("/redoc")).status_code == 200
