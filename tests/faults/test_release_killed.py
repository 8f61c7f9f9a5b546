"""A release-service process is killed with SIGKILL in the middle of a gate load.

The process serves over a real socket (uvicorn, as `ketenpas serve` runs it) and runs the
audit-log sequencer; it dies without any chance to clean up, mid-request and perhaps
mid-integration, and a new process is started in its place. No acknowledged decision or
gate-out may be lost, no container may leave twice, and the log must have no gap or fork:
it verifies end to end, every event integrated exactly once.
"""

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

import httpx
import uvicorn
from fastapi import FastAPI
from pydantic import SecretStr

from shared.settings import ServiceSettings
from tests.faults.load import Ledger, check_nothing_lost, run_lanes, stored, verified_log_size
from tests.faults.report import report
from tests.faults.servers import free_port
from tests.release.chains import full_chain
from tests.release.port import Port

PICKUPS = 12
LANES = 3
KILL_AFTER = 4
READY_BOUND_SECONDS = 60


def settings_env(settings: ServiceSettings, prefix: str) -> dict[str, str]:
    """The environment that makes a service process read these settings."""
    env: dict[str, str] = {}
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        if value is None:
            continue
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        elif not isinstance(value, str):
            value = json.dumps(value) if isinstance(value, (list, dict)) else str(value)
        env[prefix + name.upper()] = value
    return env


@asynccontextmanager
async def served(app: FastAPI) -> AsyncIterator[str]:
    """Serve an app whose lifespan already runs on a loopback socket; yield its URL."""
    port = free_port()
    # No log_config and no log_level: uvicorn would otherwise reconfigure the process's
    # logging (the uvicorn.access level), and later tests of the log format would see it.
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        lifespan="off",
        log_config=None,
        log_level=None,
        access_log=False,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    for _ in range(READY_BOUND_SECONDS * 100):  # bounded: uvicorn sets `started` once bound
        if server.started:
            break
        await asyncio.sleep(0.01)
    assert server.started, "the identity service did not start serving"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@contextmanager
def release_process(env: dict[str, str], port: int) -> Iterator[subprocess.Popen[bytes]]:
    """The release service in a process of its own, as `ketenpas serve` starts it."""
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "services.asgi:release", "--factory",
         "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)


async def until_ready(client: httpx.AsyncClient) -> float:
    """Poll readiness (bounded) until the process answers; return when it did."""
    deadline = time.monotonic() + READY_BOUND_SECONDS
    while time.monotonic() < deadline:
        try:
            if (await client.get("/readyz")).status_code == 200:
                return time.monotonic()
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.05)
    raise AssertionError(f"the release process was not ready within {READY_BOUND_SECONDS} s")


async def test_a_release_process_killed_mid_load_loses_nothing_and_the_log_has_no_gap(
    fault_port: Port,
) -> None:
    port = fault_port
    chains = [await full_chain(port, path=("forwarder", "carrier")) for _ in range(PICKUPS)]
    ledger = Ledger(milestone=KILL_AFTER)
    async with served(port.identity) as identity_url:
        settings = port.release.state.settings.model_copy(
            update={"identity_url": identity_url, "run_sequencer": True}
        )
        env = settings_env(settings, "KETENPAS_RELEASE_")
        http_port = free_port()
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{http_port}", timeout=30
        ) as client:
            with release_process(env, http_port) as first:
                await until_ready(client)

                async def kill_when_busy() -> tuple[float, float]:
                    await ledger.reached.wait()
                    killed = time.monotonic()
                    first.send_signal(signal.SIGKILL)
                    await asyncio.to_thread(first.wait, 30)
                    with release_process(env, http_port):
                        ready = await until_ready(client)
                        await finished.wait()
                    return killed, ready

                finished = asyncio.Event()
                killer = asyncio.create_task(kill_when_busy())
                await run_lanes(port, client, chains, ledger, lanes=LANES)
                finished.set()
                killed, ready = await killer

    await check_nothing_lost(port, ledger, chains)
    assert ledger.server_errors() == {}, ledger.statuses
    size = await verified_log_size(port)
    indexes = await stored(port, "SELECT log_index FROM audit_events ORDER BY log_index")
    assert [row[0] for row in indexes] == list(range(size)), "a gap or a repeat in the log"
    report(
        "release_process_killed",
        pickups=PICKUPS,
        acknowledged_decisions=len(ledger.decisions),
        acknowledged_gate_outs=len(ledger.completed),
        lost=0,
        requests_cut=sum(ledger.errors.values()),
        recovery_seconds=round(ready - killed, 3),
        answers=dict(ledger.statuses),
        log_size=size,
    )
