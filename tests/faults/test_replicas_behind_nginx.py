"""Two processes of each service behind a real nginx; one release process is killed with
SIGKILL in the middle of a gate load and started again.

This is the deployment's shape on one machine: replicas as separate OS processes (`ketenpas
serve`, one worker each) on their own loopback ports, Debian's nginx in front
(started here with a config of its own, `loadtests/reverse_proxy.py`), PostgreSQL and Redis
behind. Terminals ask for decisions and gate-outs through nginx, the drivers' phones fetch
gate passes through it, and the release processes reach the identity service through it.
A process dies without any chance to clean up; nginx keeps sending new requests to the one
that lives, and sends to the new process once it answers, with no reload. Afterwards: every
decision and gate-out a client was told of is stored (and audited), no container left twice,
`ketenpas log verify` passes through nginx with every stored event re-hashed, and the only
requests that failed are ones that were in flight when the process died (nginx does not
send a POST again: see the proxy module's docstring).

SQLite is a single-host default: replicas need the PostgreSQL pass (as every fault test).
"""

import asyncio
import contextlib
import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from loadtests.reverse_proxy import ReverseProxy, nginx_binary, start_proxy
from services.cli import app as cli
from shared.settings import ServiceSettings
from tests.conftest import ON_POSTGRES
from tests.faults.load import Ledger, check_nothing_lost, run_lanes, until_log_integrates_everything
from tests.faults.report import report
from tests.faults.servers import free_port
from tests.faults.test_release_killed import until_ready
from tests.helpers import invoke_cli
from tests.release.chains import full_chain
from tests.release.port import Port

PICKUPS = 12
LANES = 3
KILL_AFTER = 4
REPLICAS = 2
CROWD_BOUND_SECONDS = 30.0
REJOIN_BOUND_SECONDS = 30.0

if not ON_POSTGRES:
    pytest.skip(
        "replicas share one database: SQLite is the single-host default, "
        "so this runs in the PostgreSQL pass",
        allow_module_level=True,
    )
if nginx_binary() is None and os.environ.get("CI") != "true":
    # In CI (.ci/run installs Debian's nginx) a missing nginx fails the test instead.
    pytestmark = pytest.mark.skip(reason="needs Debian's nginx (apt-get install nginx)")


def settings_env(settings: ServiceSettings, prefix: str) -> dict[str, str]:
    """The environment that makes a service process read these settings (a list as the
    comma-separated value the settings parse from the environment)."""
    env: dict[str, str] = {}
    for name in type(settings).model_fields:
        value: Any = getattr(settings, name)
        if value is None or value == []:
            continue
        if isinstance(value, list):
            value = ",".join(_plain(item) for item in value)
        elif isinstance(value, dict):
            value = json.dumps(value)
        env[prefix + name.upper()] = _plain(value)
    return env


def _plain(value: object) -> str:
    return value.get_secret_value() if isinstance(value, SecretStr) else str(value)


class InFlight(httpx.AsyncHTTPTransport):
    """The client's transport, counting requests sent and not yet answered, and telling when
    `crowd` of them are in flight at once."""

    def __init__(self, crowd: int) -> None:
        super().__init__()
        self.now = 0
        self.sent = 0
        self.crowd = crowd
        self.crowded = asyncio.Event()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.now += 1
        self.sent += 1
        if self.now >= self.crowd:
            self.crowded.set()
        try:
            return await super().handle_async_request(request)
        finally:
            self.now -= 1


@contextmanager
def service_process(
    service: str, env: dict[str, str], port: int, logs: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """`ketenpas serve <service>` in one process on its own port; its output goes to a file
    in `logs` (shown when the test fails)."""
    logs.mkdir(exist_ok=True)
    output = (logs / f"{service}-{port}.log").open("ab")
    prefix = f"KETENPAS_{service.upper()}_"
    own = {f"{prefix}HOST": "127.0.0.1", f"{prefix}PORT": str(port), f"{prefix}WORKERS": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "services.cli", "serve", service],
        env={**os.environ, **env, **own},
        stdout=output,
        stderr=subprocess.STDOUT,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)
        output.close()


def output_of(logs: Path, port: int) -> str:
    """The end of what the process on this port wrote."""
    return "".join(path.read_text()[-3000:] for path in logs.glob(f"*-{port}.log"))


async def all_ready(ports: list[int], logs: Path) -> None:
    """Wait (bounded) until the process on each port answers its readiness probe."""

    async def one(port: int) -> None:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            try:
                await until_ready(client)
            except AssertionError as failure:
                output = output_of(logs, port)
                raise AssertionError(f"no answer on port {port}:\n{output}") from failure

    await asyncio.gather(*(one(port) for port in ports))


async def until_answered_by(nginx: ReverseProxy, address: str, *, since: float) -> None:
    """Ask through nginx (bounded) until the process at `address` has answered a request
    that nginx passed on at or after `since` (its access log tells)."""
    deadline = time.monotonic() + REJOIN_BOUND_SECONDS
    async with httpx.AsyncClient(base_url=nginx.url("release"), timeout=10) as client:
        while time.monotonic() < deadline:
            await client.get("/healthz")
            if any(
                entry.at >= since and entry.tried[-1:] == (address,) and entry.status == 200
                for entry in await asyncio.to_thread(nginx.passed)
            ):
                return
            await asyncio.sleep(0.1)
    raise AssertionError(f"nginx sent nothing to {address} within {REJOIN_BOUND_SECONDS} s")


@contextmanager
def proxy(folder: Path, upstreams: dict[str, list[int]]) -> Iterator[ReverseProxy]:
    """nginx in front of the upstreams, logging where it passed each request; stopped at the
    end."""
    running = start_proxy(folder, upstreams, access_log=True)
    try:
        yield running
    finally:
        running.stop()


async def test_replicas_behind_nginx_lose_nothing_when_a_release_process_is_killed(
    fault_port: Port, tmp_path: Path
) -> None:
    port = fault_port
    chains = [await full_chain(port, path=("forwarder", "carrier")) for _ in range(PICKUPS)]
    ledger = Ledger(milestone=KILL_AFTER)
    identity_ports = [free_port() for _ in range(REPLICAS)]
    release_ports = [free_port() for _ in range(REPLICAS)]
    logs = tmp_path / "logs"
    with ExitStack() as stack:
        nginx = stack.enter_context(
            proxy(tmp_path / "nginx", {"identity": identity_ports, "release": release_ports})
        )
        identity_env = settings_env(port.identity.state.settings, "KETENPAS_IDENTITY_")
        # The sign-in rate limits count the client's address: behind nginx, the one it forwards.
        identity_env["KETENPAS_IDENTITY_TRUSTED_PROXIES"] = "127.0.0.1/32"
        # The release processes reach the identity service through nginx too.
        release_settings = port.release.state.settings.model_copy(
            update={"identity_url": nginx.url("identity"), "run_sequencer": True}
        )
        release_env = settings_env(release_settings, "KETENPAS_RELEASE_")
        for http_port in identity_ports:
            stack.enter_context(service_process("identity", identity_env, http_port, logs))
        releases = [
            stack.enter_context(service_process("release", release_env, http_port, logs))
            for http_port in release_ports
        ]
        await all_ready(identity_ports + release_ports, logs)

        counted = InFlight(crowd=LANES - 1)
        async with (
            httpx.AsyncClient(base_url=nginx.url("release"), transport=counted, timeout=30) as gate,
            httpx.AsyncClient(base_url=nginx.url("identity"), timeout=30) as phones,
        ):
            # The drivers' phones fetch gate passes through nginx (their sign-in stays the
            # test's shortcut into the identity database).
            through_nginx = dataclasses.replace(port, identity_client=phones)

            async def kill_one_when_busy() -> tuple[int, float, float]:
                await ledger.reached.wait()
                # Mid-load: when several requests are in flight (bounded: the lanes may be
                # ending), so that the killed process is likely to be serving one.
                counted.crowded.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(counted.crowded.wait(), CROWD_BOUND_SECONDS)
                # The most that can fail: the requests sent and not yet answered when the
                # signal went, and those sent before the process was gone (it dies when the
                # kernel gets to it; until then it still accepts connections).
                in_flight, sent = counted.now, counted.sent
                killed_at = time.time()
                releases[0].send_signal(signal.SIGKILL)
                await asyncio.to_thread(releases[0].wait, 30)
                in_flight += counted.sent - sent
                stack.enter_context(service_process("release", release_env, release_ports[0], logs))
                await all_ready([release_ports[0]], logs)
                return in_flight, killed_at, time.time()

            killer = asyncio.create_task(kill_one_when_busy())
            try:
                await run_lanes(through_nginx, gate, chains, ledger, lanes=LANES)
            except BaseException:
                killer.cancel()
                raise
            in_flight_at_kill, killed_at, restarted_at = await killer
            assert releases[0].returncode == -signal.SIGKILL
            # The new process takes its share again with nginx unchanged (a failed process is
            # left out for fail_timeout, then tried again).
            await until_answered_by(nginx, f"127.0.0.1:{release_ports[0]}", since=restarted_at)

            await check_nothing_lost(port, ledger, chains)
            size = await until_log_integrates_everything(port)
            settings = port.release.state.settings
            verified = await invoke_cli(
                cli,
                ["log", "verify", nginx.url("release"),
                 "--key", port.release.state.audit_log.verifier_key,
                 "--database-url", settings.database_url,
                 "--database-schema", str(settings.database_schema)],
            )  # fmt: skip
            assert verified.exit_code == 0, verified.output
            assert f"{size} entries" in verified.output
            assert f"{size} stored events re-hashed" in verified.output

    # A request cut by the kill is answered 502 by nginx (or, at worst, cut): nothing else may
    # fail, and no more of them than were in flight when the process died.
    release_failures = {
        key: count
        for key, count in ledger.statuses.items()
        if key.startswith("release ") and key.split()[1].startswith("5")
    }
    assert set(release_failures) <= {"release 502"}, ledger.statuses
    cut = sum(release_failures.values()) + sum(
        count for key, count in ledger.errors.items() if key.startswith("release ")
    )
    assert cut <= in_flight_at_kill, (cut, in_flight_at_kill, ledger.statuses, ledger.errors)
    assert not [key for key in ledger.statuses if key.startswith("identity 5")], ledger.statuses

    # nginx's own account: both release processes answered requests, and every request it
    # answered 502 had last been sent to the killed process's port.
    killed = f"127.0.0.1:{release_ports[0]}"
    at_release = [entry for entry in nginx.passed() if entry.site_port == nginx.ports["release"]]
    answered_by = {
        entry.tried[-1] for entry in at_release if entry.tried and 200 <= entry.status < 300
    }
    assert answered_by == {f"127.0.0.1:{p}" for p in release_ports}, answered_by
    bad_gateway = [entry for entry in at_release if entry.status == 502]
    assert len(bad_gateway) == ledger.statuses["release 502"], bad_gateway
    assert all(entry.tried[-1:] == (killed,) for entry in bad_gateway), bad_gateway
    # New requests whose connection to the dead port failed, passed on to the live process.
    passed_on = [entry for entry in at_release if len(entry.tried) > 1 and entry.status < 500]
    report(
        "replicas_behind_nginx",
        pickups=PICKUPS,
        replicas=REPLICAS,
        acknowledged_decisions=len(ledger.decisions),
        acknowledged_gate_outs=len(ledger.completed),
        lost=0,
        in_flight_at_kill=in_flight_at_kill,
        requests_cut=cut,
        passed_on_by_nginx=len(passed_on),
        restarted_seconds=round(restarted_at - killed_at, 3),
        answers=dict(ledger.statuses),
        log_size=size,
    )
