"""Fixtures of the fault tests: a port whose PostgreSQL and Redis are its own to break.

They run in the PostgreSQL pass only (`KETENPAS_TEST_BACKEND=postgres`), on private servers
(`tests/faults/servers.py`); with `CI=true` a machine that cannot start them fails the run.
"""

import asyncio
import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from services.registry import SERVICES
from shared.migrate import upgrade
from shared.settings import ServiceSettings
from tests.conftest import ON_POSTGRES, SettingsFactory
from tests.faults.servers import PrivatePostgres, PrivateRedis, servers_available
from tests.release.port import Port, make_port


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every fault test needs the PostgreSQL pass."""
    for item in items:
        if "tests/faults/" in str(item.path):
            item.add_marker(pytest.mark.postgres)


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[PrivatePostgres, PrivateRedis]]:
    """A private PostgreSQL and Redis for this module's tests."""
    if not ON_POSTGRES:
        pytest.skip("fault tests run in the PostgreSQL pass")
    reason = servers_available()
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(f"fault tests cannot start private servers: {reason}")
        pytest.skip(reason)
    parent = Path(tempfile.mkdtemp(prefix="ketenpas-faults-"))
    postgres = redis = None
    try:
        postgres = PrivatePostgres.create(parent)
        redis = PrivateRedis.create(parent)
        yield postgres, redis
    finally:
        if redis is not None:
            redis.stop()
        if postgres is not None:
            postgres.stop()
        shutil.rmtree(parent, ignore_errors=True)


@pytest.fixture
def fault_settings(servers: tuple[PrivatePostgres, PrivateRedis]) -> SettingsFactory:
    """Settings on the private servers, in fresh schemas migrated for this test."""
    postgres, redis = servers
    run = uuid.uuid4().hex[:8]
    migrated: set[str] = set()

    def build(service: str, **overrides: Any) -> ServiceSettings:
        spec = SERVICES[service]
        values: dict[str, Any] = {
            "database_url": postgres.url,
            "database_schema": f"kp_fault_{run}_{service}",
            "cache_url": redis.url,
            "cache_prefix": f"kp-fault:{run}:{service}",
            "run_sequencer": False,
            "database_pool_warm": False,
        }
        values.update(overrides)
        settings = spec.settings().model_copy(update=values)
        if service not in migrated:
            _migrate_in_thread(settings, spec.migrations)
            migrated.add(service)
        return settings

    return build


def _migrate_in_thread(settings: ServiceSettings, migrations: Path) -> None:
    """Run the async migration on a loop of its own (the test's loop is busy calling us)."""
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, upgrade(settings, migrations)).result()


@pytest.fixture
async def fault_port(fault_settings: SettingsFactory) -> AsyncIterator[Port]:
    """Both services on the private servers; the release service runs its sequencer."""
    async with make_port(fault_settings, run_sequencer=True) as port:
        yield port
