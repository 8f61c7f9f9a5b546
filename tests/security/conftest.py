"""Fixtures of the security tests: each test here is named after an insider's threat.

`port` is the release port (both services, a chain's members, the terminal and the
overseers); `identity_port` is the identity service alone with an administrator and a
carrier holding its own key; `clock` moves the identity service's time.
"""

from collections.abc import AsyncIterator

import pytest

from tests.conftest import SettingsFactory
from tests.identity.conftest import Clock
from tests.identity.conftest import clock as clock  # re-exported fixture
from tests.identity.conftest import identity_port as identity_port  # re-exported fixture
from tests.release.port import Port, make_port

__all__ = ["Clock", "clock", "identity_port"]


@pytest.fixture
async def port(make_settings: SettingsFactory) -> AsyncIterator[Port]:
    """Both services with the members of a chain, the terminal and the overseers."""
    async with make_port(make_settings) as port:
        yield port
