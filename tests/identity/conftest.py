"""Fixtures of the identity-service tests: a settable clock, the CLI's environment,
`identity_port` (the identity service with an administrator and a carrier)."""

import time

import httpx
import pytest
from fastapi import FastAPI

from services.identity.clock import current_time
from services.identity.sessions import totp
from tests.conftest import SettingsFactory
from tests.identity.credential_factories import IdentityPort, make_identity_port

App = tuple[FastAPI, httpx.AsyncClient]


class Clock:
    """A settable time for the app's `current_time` dependency."""

    def __init__(self) -> None:
        # The first second of the current time step: tests that move on a few seconds
        # stay in the same step, whenever they run.
        self.now = float(totp.time_step(time.time()) * totp.STEP_SECONDS)

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(identity_app: App) -> Clock:
    """The identity app's clock, stopped at the start of a TOTP step and moved by the test."""
    app, _ = identity_app
    fake = Clock()
    app.dependency_overrides[current_time] = fake
    return fake


@pytest.fixture
def cli_env(make_settings: SettingsFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point the CLI's settings (read from the environment) at this test's database."""
    settings = make_settings("identity")
    monkeypatch.setenv("KETENPAS_IDENTITY_DATABASE_URL", settings.database_url)
    if settings.database_schema:
        monkeypatch.setenv("KETENPAS_IDENTITY_DATABASE_SCHEMA", settings.database_schema)


@pytest.fixture
async def identity_port(identity_app: App) -> IdentityPort:
    """The identity service with an administrator and a carrier holding its own key."""
    return await make_identity_port(*identity_app)
