"""Debian's nginx as the reverse proxy in front of service processes, started with a config
of our own in a folder of our own (pid file, logs, temp paths), never the system service.

Used by the gate benchmark's `--through-proxy` mode and by the replicas fault test
(`tests/faults/test_replicas_behind_nginx.py`), the one module outside `loadtests/` that
imports it. nginx is the proxy a deployment puts in front of the replicas (an ingress
controller is nginx too); starting it is a config file and a command line, so there is no
library to reach for, and this module is only that: write the config, check it with
`nginx -t`, start it in the foreground, wait for its ports, stop it.

The proxy settings are the ones a deployment needs and the test relies on:

- Each site balances round-robin over its upstream processes, on kept-alive HTTP/1.1
  connections (a new connection per request costs the service a handshake and an accept).
  nginx closes an idle upstream connection after 4 s, before uvicorn's 5 s keep-alive timeout
  would: otherwise uvicorn could close a connection as nginx sends a request on it, and a POST
  on it would be answered 502 though no process died.
- A request whose connection to an upstream process fails before it was sent goes to the
  next process (`proxy_next_upstream error timeout`): a dead process costs no request that
  had not reached it. A POST that was sent is never sent again (nginx's default, kept: no
  `non_idempotent`): a gate decision or gate-out that a killed process may have committed
  must not be made twice behind the client's back; the client gets a 502 and decides
  (a terminal asks again with a fresh gate pass; a gate-out answered `already_completed`
  tells it the first one held).
"""

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

START_TIMEOUT_SECONDS = 30.0
STOP_TIMEOUT_SECONDS = 15.0
# nginx closes idle upstream connections before uvicorn's own keep-alive timeout (5 s) does.
UPSTREAM_IDLE_SECONDS = 4
UPSTREAM_KEEPALIVE = 32  # idle connections kept per nginx worker, per site
# After a failed connection a process is left out for this long, then tried again.
FAIL_TIMEOUT_SECONDS = 2


def nginx_binary() -> str | None:
    """The nginx executable (Debian's `nginx` package: /usr/sbin/nginx), or None."""
    return shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


# With `access_log`: when, which site (by nginx's port), which process(es) nginx tried and
# what each answered, the answer the client got.
ACCESS_FORMAT = "$msec|$server_port|$upstream_addr|$upstream_status|$status|$request_method|$uri"


@dataclass(frozen=True)
class Passed:
    """One request as nginx's access log tells it."""

    at: float  # seconds since the epoch
    site_port: int
    tried: tuple[str, ...]  # upstream addresses in the order nginx tried them
    upstream_statuses: tuple[str, ...]  # what each answered ("502" also for no answer)
    status: int
    method: str
    path: str

    @classmethod
    def parse(cls, line: str) -> "Passed":
        """One line of the access log."""
        at, site, tried, statuses, status, method, path = line.rstrip("\n").split("|", 6)
        return cls(
            float(at),
            int(site),
            tuple(item.strip() for item in tried.split(",") if item.strip() not in ("", "-")),
            tuple(item.strip() for item in statuses.split(",") if item.strip() not in ("", "-")),
            int(status),
            method,
            path,
        )


def render_config(
    folder: Path, sites: Mapping[str, tuple[int, Sequence[int]]], *, access_log: bool = False
) -> str:
    """nginx.conf for `sites`: name -> (port nginx listens on, upstream ports), all on
    127.0.0.1, every file nginx writes under `folder`; `access_log` writes `access.log`
    there in ACCESS_FORMAT (upstream addresses joined by ", " when nginx tried several)."""
    # As root, nginx's workers would switch to `nobody`, who cannot reach the temp paths in a
    # private (0700) folder such as pytest's tmp_path; on loopback, for a test, they stay root.
    user = "user root;\n" if os.geteuid() == 0 else ""
    blocks = []
    for name, (listen, upstreams) in sites.items():
        servers = "".join(
            f"    server 127.0.0.1:{port} max_fails=1 fail_timeout={FAIL_TIMEOUT_SECONDS}s;\n"
            for port in upstreams
        )
        blocks.append(
            f"  upstream {name} {{\n{servers}"
            f"    keepalive {UPSTREAM_KEEPALIVE};\n"
            f"    keepalive_timeout {UPSTREAM_IDLE_SECONDS}s;\n"
            "  }\n"
            "  server {\n"
            f"    listen 127.0.0.1:{listen};\n"
            "    location / {\n"
            f"      proxy_pass http://{name};\n"
            "      proxy_http_version 1.1;\n"
            '      proxy_set_header Connection "";\n'
            "      proxy_set_header Host $http_host;\n"
            "      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n"
            "      proxy_set_header X-Forwarded-Proto $scheme;\n"
            # Not `non_idempotent`: a POST that reached a process is never sent twice.
            "      proxy_next_upstream error timeout;\n"
            "      proxy_connect_timeout 2s;\n"
            "      proxy_read_timeout 60s;\n"
            "    }\n"
            "  }\n"
        )
    return (
        f"{user}daemon off;\n"
        "worker_processes 1;\n"
        f"pid {folder / 'nginx.pid'};\n"
        f"error_log {folder / 'error.log'} warn;\n"
        "events { worker_connections 1024; }\n"
        "http {\n"
        + (
            f"  log_format upstreams '{ACCESS_FORMAT}';\n"
            f"  access_log {folder / 'access.log'} upstreams;\n"
            if access_log
            else "  access_log off;\n"
        )
        + f"  client_body_temp_path {folder / 'client_body'};\n"
        f"  proxy_temp_path {folder / 'proxy'};\n"
        f"  fastcgi_temp_path {folder / 'fastcgi'};\n"
        f"  uwsgi_temp_path {folder / 'uwsgi'};\n"
        f"  scgi_temp_path {folder / 'scgi'};\n" + "".join(blocks) + "}\n"
    )


@dataclass
class ReverseProxy:
    """A running nginx: its process, folder and the port of each site."""

    folder: Path
    ports: dict[str, int]
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def url(self, site: str) -> str:
        """The base URL of one site."""
        return f"http://127.0.0.1:{self.ports[site]}"

    def error_log(self) -> str:
        """The end of nginx's error log (why it failed, or what it told)."""
        path = self.folder / "error.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def passed(self) -> list[Passed]:
        """The requests nginx passed on (with `access_log`), in the order it logged them."""
        path = self.folder / "access.log"
        if not path.exists():
            return []
        return [Passed.parse(line) for line in path.read_text().splitlines() if line]

    def stop(self) -> None:
        """Stop nginx (SIGTERM: fast shutdown), killing it if it does not stop in time."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=STOP_TIMEOUT_SECONDS)
        self.process = None


def start_proxy(
    folder: Path, upstreams: Mapping[str, Sequence[int]], *, access_log: bool = False
) -> ReverseProxy:
    """nginx in front of `upstreams` (site name -> upstream ports on 127.0.0.1), each site on
    a free port of its own; returns once every site accepts connections."""
    binary = nginx_binary()
    if binary is None:
        raise RuntimeError("nginx is not installed (Debian: apt-get install nginx)")
    folder.mkdir(parents=True, exist_ok=True)
    ports = {name: _free_port() for name in upstreams}
    config = folder / "nginx.conf"
    config.write_text(
        render_config(
            folder,
            {name: (ports[name], upstreams[name]) for name in upstreams},
            access_log=access_log,
        )
    )
    # -e: the error log before the config is read (else /var/log/nginx/error.log); -p: prefix.
    command = [binary, "-e", str(folder / "error.log"), "-p", str(folder), "-c", str(config)]
    checked = subprocess.run([*command, "-t", "-q"], capture_output=True, timeout=30)
    if checked.returncode != 0:
        raise RuntimeError(f"nginx -t refused the config: {checked.stderr.decode()}")
    proxy = ReverseProxy(folder, ports)
    proxy.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    waiting = set(ports.values())
    while waiting and time.monotonic() < deadline:
        if proxy.process.poll() is not None:
            raise RuntimeError(f"nginx exited at start:\n{proxy.error_log()}")
        for port in list(waiting):
            with socket.socket() as sock:
                sock.settimeout(0.5)
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    waiting.discard(port)
        if waiting:
            time.sleep(0.05)  # a bounded wait for a starting process, not a timing test
    if waiting:
        proxy.stop()
        raise RuntimeError(f"nginx did not listen within {START_TIMEOUT_SECONDS:g} s")
    return proxy
