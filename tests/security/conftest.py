"""Fixtures of the security tests: each test here is named after an insider's threat.

`port` is the release port (both services, a chain's members, the terminal and the
overseers); `subscribers_port` the same with local webhook receivers allowed and the
identity service asked afresh at every check (a party's standing before each delivery);
`identity_port` is the identity service alone with an administrator and a
carrier holding its own key; `clock` moves the identity service's time; `web_port` is the
port with the web front end in front of it (tests/web/port.py).
"""

from collections.abc import AsyncIterator

import pytest

from tests.conftest import SettingsFactory
from tests.identity.conftest import Clock
from tests.identity.conftest import clock as clock  # re-exported fixture
from tests.identity.conftest import identity_port as identity_port  # re-exported fixture
from tests.release.port import Port, make_port
from tests.web.port import web_port as web_port  # re-exported fixture

__all__ = ["Clock", "clock", "identity_port", "web_port"]


@pytest.fixture
async def port(make_settings: SettingsFactory) -> AsyncIterator[Port]:
    """Both services with the members of a chain, the terminal and the overseers."""
    async with make_port(make_settings) as port:
        yield port


@pytest.fixture
async def subscribers_port(make_settings: SettingsFactory) -> AsyncIterator[Port]:
    """`port` with local webhook receivers allowed and the identity service's answers never
    reused, so each delivery is judged by the party's standing now."""
    async with make_port(
        make_settings, webhook_allow_private=True, identity_refresh_seconds=0
    ) as port:
        yield port
