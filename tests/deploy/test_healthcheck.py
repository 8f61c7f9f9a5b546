"""The image's HEALTHCHECK script (deploy/docker/healthcheck.py), run against real servers on
loopback."""

import http.server
import importlib.util
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from tests.deploy.manifests import ROOT


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "ketenpas_healthcheck", ROOT / "deploy" / "docker" / "healthcheck.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


healthcheck = _load()


class _Handler(http.server.BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        self.send_response(self.status if self.path == "/healthz" else 404)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[http.server.ThreadingHTTPServer]:
    """A server on a free loopback port that answers /healthz with _Handler.status."""
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()
    _Handler.status = 200


def _port(httpd: http.server.ThreadingHTTPServer) -> int:
    return int(httpd.server_address[1])


@pytest.mark.parametrize(
    ("argv", "target"),
    [
        (["tini", "--", "ketenpas", "serve", "identity"], "identity"),
        (["/opt/ketenpas/bin/python", "/opt/ketenpas/bin/ketenpas", "serve", "release"], "release"),
        (["tini", "--", "ketenpas", "serve", "web"], "web"),
        (["tini", "--", "ketenpas", "serve"], None),
        (["tini", "--", "ketenpas", "webhooks", "run"], None),
        (["tini", "--", "ketenpas", "db", "upgrade", "all"], None),
    ],
)
def test_the_served_target_is_read_from_the_command(argv: list[str], target: str | None) -> None:
    assert healthcheck.served_target(argv) == target


def test_a_service_answering_healthz_is_healthy(server: http.server.ThreadingHTTPServer) -> None:
    env = {"KETENPAS_RELEASE_PORT": str(_port(server))}
    assert healthcheck.check(["ketenpas", "serve", "release"], env)


def test_a_service_answering_an_error_is_unhealthy(
    server: http.server.ThreadingHTTPServer,
) -> None:
    _Handler.status = 503
    env = {"KETENPAS_IDENTITY_PORT": str(_port(server))}
    assert not healthcheck.check(["ketenpas", "serve", "identity"], env)


def test_a_service_not_listening_is_unhealthy() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        free = sock.getsockname()[1]
    assert not healthcheck.check(["ketenpas", "serve", "web"], {"KETENPAS_WEB_PORT": str(free)})


def test_the_port_is_the_services_own_setting_or_its_default() -> None:
    assert healthcheck.health_url("identity", {}) == "http://127.0.0.1:8001/healthz"
    assert healthcheck.health_url("web", {"KETENPAS_WEB_PORT": "9000"}).endswith(":9000/healthz")
    # Another service's port setting is not this one's.
    assert healthcheck.health_url("release", {"KETENPAS_IDENTITY_PORT": "9"}).endswith(
        ":8002/healthz"
    )


def test_a_command_that_serves_nothing_is_healthy_while_it_runs() -> None:
    assert healthcheck.check(["tini", "--", "ketenpas", "webhooks", "run"], {})


def test_the_container_command_is_read_from_proc(tmp_path: Path) -> None:
    cmdline = tmp_path / "cmdline"
    cmdline.write_bytes(b"tini\0--\0ketenpas\0serve\0identity\0")
    assert healthcheck.container_command(cmdline) == ["tini", "--", "ketenpas", "serve", "identity"]
