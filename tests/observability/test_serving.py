"""`ketenpas serve release` with two worker processes: the metrics port shows what both did.

The one check that the supervising process names the multiprocess directory before uvicorn
starts the workers: were it named too late, each worker would keep its counts to itself and
the metrics port would show none of them.
"""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from services.release.webhooks import cli as webhooks_cli
from services.release.webhooks.settings import DispatcherSettings
from tests.conftest import Database
from tests.security.test_outsider_scrapes_the_metrics import free_port

# A bound against a hang, not a timing: two workers import the whole service on a busy machine.
STARTUP_DEADLINE = 120.0
ROUTE = "/v1/releases/{release_id}"


@pytest.fixture
def serving(databases: dict[str, Database], tmp_path: Path) -> Iterator[tuple[int, int, Path]]:
    port, metrics_port = free_port(), free_port()
    database = databases["release"]
    environment = {
        **os.environ,
        "KETENPAS_RELEASE_PORT": str(port),
        "KETENPAS_RELEASE_WORKERS": "2",
        "KETENPAS_RELEASE_METRICS_PORT": str(metrics_port),
        "KETENPAS_RELEASE_METRICS_MULTIPROCESS_DIR": str(tmp_path / "metrics"),
        "KETENPAS_RELEASE_DATABASE_URL": database.url,
        "KETENPAS_RELEASE_RUN_SEQUENCER": "false",
        "KETENPAS_RELEASE_VISIT_TICK_SECONDS": "0",
        "KETENPAS_RELEASE_HOUSEKEEPING_INTERVAL_SECONDS": "0",
        "KETENPAS_RELEASE_RECONCILE_INTERVAL_SECONDS": "0",
        "KETENPAS_RELEASE_ACCESS_LOG_SEAL_INTERVAL_SECONDS": "0",
        "KETENPAS_RELEASE_DATABASE_POOL_WARM": "false",
    }
    if database.schema:
        environment["KETENPAS_RELEASE_DATABASE_SCHEMA"] = database.schema
    environment.pop("PROMETHEUS_MULTIPROC_DIR", None)
    log = tmp_path / "serve.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "services.cli", "serve", "release"],
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        yield port, metrics_port, log
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _count(metrics_port: int) -> float:
    text = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "ketenpas_http_request_duration_seconds_count"
        and sample.labels.get("route") == ROUTE
    )


def test_two_workers_requests_add_up_at_the_metrics_port(
    serving: tuple[int, int, Path],
) -> None:
    port, metrics_port, log = serving
    deadline = time.monotonic() + STARTUP_DEADLINE
    while not _answers(f"http://127.0.0.1:{port}/healthz"):
        assert time.monotonic() < deadline, log.read_text(errors="replace")[-3000:]
        time.sleep(0.2)
    with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
        for number in range(12):
            # A fresh connection each: the kernel spreads them over both workers' accepts.
            response = client.get(f"/v1/releases/{number}", headers={"connection": "close"})
            assert response.status_code == 401
    assert _count(metrics_port) == 12
    assert not _answers(f"http://127.0.0.1:{port}/metrics")


def test_the_dispatcher_apart_serves_its_own_metrics_in_one_process(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`ketenpas webhooks run` logs at the configured level and serves `ketenpas_webhook_*`
    on METRICS_PORT, as one process whatever WORKERS the release service runs with, and
    frees the port when it stops."""
    metrics_port = free_port()
    monkeypatch.setenv("KETENPAS_RELEASE_METRICS_PORT", str(metrics_port))
    monkeypatch.setenv("KETENPAS_RELEASE_WORKERS", "4")
    workers: list[int] = []
    names: set[str] = set()

    async def instead_of_dispatching(settings: DispatcherSettings, **_: object) -> None:
        workers.append(settings.workers)
        async with httpx.AsyncClient() as client:
            response = await client.get(f"http://127.0.0.1:{metrics_port}/metrics")
        names.update(family.name for family in text_string_to_metric_families(response.text))

    monkeypatch.setattr(webhooks_cli, "serve_until_stopped", instead_of_dispatching)
    levels: list[str] = []
    monkeypatch.setattr(webhooks_cli, "configure_logging", levels.append)
    monkeypatch.setenv("KETENPAS_RELEASE_LOG_LEVEL", "WARNING")
    webhooks_cli.run()
    assert levels == ["WARNING"]  # its logs as the release service's settings say
    assert workers == [1]
    assert {"ketenpas_webhook_attempts", "ketenpas_webhook_delivered_timestamp_seconds"} <= names
    assert not _answers(f"http://127.0.0.1:{metrics_port}/metrics")
