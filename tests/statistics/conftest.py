"""The draws every statistics test reads: simulated once per run, never kept across runs.

`KETENPAS_STATISTICS_DRAWS` sets how many draws of each kind (container, visit) a run
makes: a bounded slice by default, which `make test` runs in seconds, and 100,000 under
`make statistics`.

The draws touch no database or cache, so the PostgreSQL + Redis pass of `make test` skips
them: running the same pure computation twice would only lengthen CI.
"""

import os

import pytest

from tests.conftest import BACKEND
from tests.statistics.simulate import ContainerDraw, VisitDraw, simulate_containers, simulate_visits

DRAWS = int(os.environ.get("KETENPAS_STATISTICS_DRAWS", "5000"))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Skip the statistics on the PostgreSQL pass (nothing here depends on the backend)."""
    if BACKEND != "postgres":
        return
    skip = pytest.mark.skip(reason="backend-independent: run in the embedded pass")
    for item in items:
        if "tests/statistics/" in str(item.path):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def container_draws() -> list[ContainerDraw]:
    """DRAWS gate decisions drawn with the real VRF under the test seed."""
    return simulate_containers(DRAWS)


@pytest.fixture(scope="session")
def visit_draws() -> list[VisitDraw]:
    """DRAWS visit slots (over the sites in turn) drawn with the real VRF under the test seed."""
    return simulate_visits(DRAWS)
