"""The draws every statistics test reads: simulated once per run, never kept across runs.

`KETENPAS_STATISTICS_DRAWS` sets how many draws of each kind (container, visit) a run
makes: a bounded slice by default, which `make test` runs in seconds, and 100,000 under
`make statistics`.
"""

import os

import pytest

from tests.statistics.simulate import ContainerDraw, VisitDraw, simulate_containers, simulate_visits

DRAWS = int(os.environ.get("KETENPAS_STATISTICS_DRAWS", "5000"))


@pytest.fixture(scope="session")
def container_draws() -> list[ContainerDraw]:
    """DRAWS gate decisions drawn with the real VRF under the test seed."""
    return simulate_containers(DRAWS)


@pytest.fixture(scope="session")
def visit_draws() -> list[VisitDraw]:
    """DRAWS visit slots (over the sites in turn) drawn with the real VRF under the test seed."""
    return simulate_visits(DRAWS)
