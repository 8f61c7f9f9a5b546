"""Fixtures of the monitoring tests: the release port (both services in one process)."""

from collections.abc import AsyncIterator

import pytest

from tests.conftest import SettingsFactory
from tests.release.port import Port, make_port


@pytest.fixture
async def port(make_settings: SettingsFactory) -> AsyncIterator[Port]:
    """Both services with the members of a chain, the terminal and the overseers."""
    async with make_port(make_settings) as port:
        yield port
