"""The front end's settings refuse, outside development, what only a laptop demo may use."""

import base64
import os

import pytest
from pydantic import ValidationError

from services.web.settings import WebSettings
from shared.demo import DEMO_WEB_SESSION_KEY
from shared.tlog.note import verifier_key

REAL_KEY = base64.b64encode(os.urandom(32)).decode()
PRODUCTION = {
    "environment": "production",
    "session_key": REAL_KEY,
    "release_log_key": verifier_key("ketenpas.example/release-log", bytes(range(32))),
    "cache_url": "redis://127.0.0.1:6379",
}


def test_production_settings_that_are_complete_are_taken() -> None:
    settings = WebSettings.model_validate(PRODUCTION)
    assert settings.secure_cookies


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("session_key", DEMO_WEB_SESSION_KEY, "demo secret"),
        ("session_key", DEMO_WEB_SESSION_KEY.rstrip("="), "demo secret"),  # another spelling
        ("release_log_key", "", "release_log_key"),
        ("cache_url", "memory://", "cache_url must be Redis"),
        ("release_log_key", "not+a+key", "not a note verifier key"),
    ],
)
def test_production_refuses(name: str, value: str, says: str) -> None:
    with pytest.raises(ValidationError, match=says):
        WebSettings.model_validate({**PRODUCTION, name: value})


@pytest.mark.parametrize("key", ["", "not base64!", base64.b64encode(b"short").decode()])
def test_a_session_key_must_be_32_bytes(key: str) -> None:
    with pytest.raises(ValidationError):
        WebSettings(session_key=key)


def test_development_runs_on_the_demo_defaults() -> None:
    settings = WebSettings()
    assert not settings.secure_cookies and settings.cache_url == "memory://"
