"""Threat: anyone on the public port reads the service's metrics.

The metrics tell when gates decide `inspect` and for what reasons, how busy each endpoint is,
whether the identity service is away: a criminal's lookout would like to watch them live.
They are served on a port of their own (`METRICS_PORT`, off unless configured), bound to the
loopback unless told otherwise, which the deployment opens to Prometheus alone; the public
app has no `/metrics` at all, whatever the spelling.
"""

import socket

import httpx
import pytest

from services.registry import SERVICES
from shared.observability.exposition import serve_metrics
from tests.conftest import SettingsFactory, running
from tests.helpers import assert_problem

SPELLINGS = ("/metrics", "/metrics/", "/Metrics", "/metrics?format=prometheus", "//metrics")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.mark.parametrize("service", sorted(SERVICES))
async def test_the_public_port_serves_no_metrics(
    make_settings: SettingsFactory, service: str
) -> None:
    app = SERVICES[service].create_app(make_settings(service, metrics_port=free_port()))
    async with running(app) as client:
        assert (await client.get("/healthz")).status_code == 200  # timed, so metrics exist
        for path in SPELLINGS:
            for method in ("GET", "HEAD", "POST"):
                answer = await client.request(method, path)
                assert answer.status_code in (404, 405), (method, path, answer.status_code)
                assert "ketenpas_" not in answer.text
            assert_problem(await client.get(path), 404, "not_found")
        openapi = (await client.get("/openapi.json")).json()
        assert not [path for path in openapi["paths"] if "metrics" in path.lower()]


def test_metrics_are_served_only_where_configured_and_on_the_loopback_by_default(
    make_settings: SettingsFactory,
) -> None:
    assert serve_metrics(make_settings("release")) is None  # no port: nothing listens
    port = free_port()
    server = serve_metrics(make_settings("release", metrics_port=port))
    assert server is not None
    try:
        assert server.server.server_address[0] == "127.0.0.1"
        answer = httpx.get(f"http://127.0.0.1:{port}/metrics")
        assert answer.status_code == 200 and "ketenpas_gate_decisions_total" in answer.text
    finally:
        server.close()


def test_the_metrics_port_cannot_be_the_public_port() -> None:
    settings = SERVICES["release"].settings()
    with pytest.raises(ValueError, match="metrics_port"):
        settings.model_validate({"port": 8002, "metrics_port": 8002})
