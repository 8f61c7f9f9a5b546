"""The reverse proxy's settings that the replicas rely on, and its access log, on both
backends (the replicas fault test itself needs PostgreSQL: tests/faults).
"""

import os
import socket
from pathlib import Path

import httpx
import pytest
import uvicorn

from loadtests.reverse_proxy import (
    UPSTREAM_IDLE_SECONDS,
    Passed,
    nginx_binary,
    render_config,
    start_proxy,
)


def config(tmp_path: Path) -> str:
    return render_config(tmp_path, {"release": (8080, [9001, 9002])})


def test_a_post_that_reached_a_process_is_never_sent_again(tmp_path: Path) -> None:
    text = config(tmp_path)
    assert "proxy_next_upstream error timeout;" in text
    assert "non_idempotent" not in text


def test_nginx_closes_idle_upstream_connections_before_uvicorn_does(tmp_path: Path) -> None:
    # `ketenpas serve` leaves uvicorn's keep-alive timeout at its default.
    served = uvicorn.Config("services.asgi:release", factory=True)
    assert f"keepalive_timeout {UPSTREAM_IDLE_SECONDS}s;" in config(tmp_path)
    assert served.timeout_keep_alive > UPSTREAM_IDLE_SECONDS


def test_every_upstream_process_is_in_the_site(tmp_path: Path) -> None:
    text = config(tmp_path)
    assert "listen 127.0.0.1:8080;" in text
    assert "server 127.0.0.1:9001 " in text
    assert "server 127.0.0.1:9002 " in text


def test_an_access_log_line_names_every_process_nginx_tried() -> None:
    line = "1796599440.123|8080|127.0.0.1:9001, 127.0.0.1:9002|502, 201|201|POST|/v1/gate/decisions"
    entry = Passed.parse(line)
    assert entry.tried == ("127.0.0.1:9001", "127.0.0.1:9002")
    assert entry.upstream_statuses == ("502", "201")
    assert (entry.at, entry.site_port, entry.status) == (1796599440.123, 8080, 201)
    assert (entry.method, entry.path) == ("POST", "/v1/gate/decisions")
    assert Passed.parse("1.0|8080|-|-|404|GET|/x").tried == ()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.mark.skipif(
    nginx_binary() is None and os.environ.get("CI") != "true",
    reason="needs Debian's nginx (apt-get install nginx)",
)
def test_a_dead_upstream_is_a_502_in_the_access_log(tmp_path: Path) -> None:
    dead = _closed_port()
    proxy = start_proxy(tmp_path / "nginx", {"release": [dead]}, access_log=True)
    try:
        response = httpx.post(f"{proxy.url('release')}/v1/gate/decisions", json={}, timeout=10)
    finally:
        proxy.stop()
    assert response.status_code == 502
    [entry] = proxy.passed()
    assert (entry.status, entry.method, entry.tried) == (502, "POST", (f"127.0.0.1:{dead}",))
