"""Threat: someone on the network path between the services serves his own keys.

The release service fetches the identity service's signing keys, credentials and status
lists, and asks it for kiosk gate passes: over plain HTTP, anyone who can reach the path
(a corrupt employee on the port's network) could answer with his own keys or hide a
revocation. Production requires HTTPS to the identity service.
"""

import pytest
from pydantic import ValidationError

from services.release.settings import ReleaseSettings

REAL_KEY = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
REAL_VRF_KEY = "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8="


def production(identity_url: str) -> ReleaseSettings:
    return ReleaseSettings(
        environment="production",
        log_signing_key=REAL_KEY,
        inspection_vrf_key=REAL_VRF_KEY,
        cache_url="redis://127.0.0.1:6379/0",
        identity_url=identity_url,
    )


@pytest.mark.parametrize(
    "url", ["http://identity.port.example", "http://127.0.0.1:8001", "HTTP://identity:8001", "x"]
)
def test_production_refuses_an_identity_service_over_plain_http(url: str) -> None:
    with pytest.raises(ValidationError, match="https"):
        production(url)


def test_production_accepts_an_identity_service_over_https() -> None:
    settings = production("HTTPS://identity.port.example/")
    assert settings.identity_url == "HTTPS://identity.port.example"
    assert settings.identity_issuer == settings.identity_url


def test_development_may_use_plain_http_on_a_laptop() -> None:
    assert ReleaseSettings(identity_url="http://127.0.0.1:8001").identity_url.startswith("http:")
