"""Several worker processes are one service to Prometheus: their values add up at the port."""

import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from shared.observability.exposition import MULTIPROC_ENV, serve_metrics
from tests.conftest import SettingsFactory
from tests.security.test_outsider_scrapes_the_metrics import free_port

# A worker: counts a decision, holds a connection, and exits without checking it in.
WORKER = """
from shared.observability import metrics
metrics.gate_decided("deny", ["no_open_release"])
metrics.DB_POOL_IN_USE.inc()
"""


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_workers_values_are_added_up_and_a_dead_workers_connections_dropped(
    make_settings: SettingsFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(MULTIPROC_ENV, "")  # restored after the test: the server sets it
    directory = tmp_path / "metrics"
    directory.mkdir()
    (directory / "counter_999999.db").write_bytes(b"left by a run before")
    port = free_port()
    settings = make_settings(
        "release", workers=2, metrics_port=port, metrics_multiprocess_dir=str(directory)
    )
    server = serve_metrics(settings)
    assert server is not None
    try:
        assert not (directory / "counter_999999.db").exists()
        for _ in range(2):
            subprocess.run([sys.executable, "-c", WORKER], check=True, timeout=60)
        samples = _samples(httpx.get(f"http://127.0.0.1:{port}/metrics").text)
    finally:
        server.close()
    assert samples[("ketenpas_gate_decisions_total", (("decision", "deny"),))] == 2
    reason = (("decision", "deny"), ("reason", "no_open_release"))
    assert samples[("ketenpas_gate_decision_reasons_total", reason)] == 2
    # Both workers have exited: the connections they held are no one's any more.
    in_use = samples.get(("ketenpas_db_pool_connections_in_use", ()), 0.0)
    assert in_use == 0
