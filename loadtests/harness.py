"""What every benchmark needs and none should copy: progress lines, paired rates, base64url,
the PostgreSQL + Redis it may use, and a service in a process of its own (a free port, the
readiness poll, a graceful stop, the end of its output, its data dropped afterwards).

Traffic stays on 127.0.0.1. Nothing outside `loadtests/` imports this module.
"""

import asyncio
import base64
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import redis.asyncio as redis

PG_URL = os.environ.get("KETENPAS_BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("KETENPAS_BENCH_REDIS_URL", "redis://127.0.0.1:6379")
START_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0


def log(message: str) -> None:
    """Progress goes to stderr with the time of day, so that stdout holds only the figures."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def b64url(data: bytes) -> str:
    """base64url without padding (RFC 7515 section 2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


# --- in-process rates -------------------------------------------------------------------------


def paired_rates(
    first: Callable[[int], object],
    second: Callable[[int], object],
    seconds: float,
    batch: int = 64,
) -> tuple[float, float]:
    """Calls per second of each, timed in alternating batches over about `seconds`.

    Alternating small batches lets both loops see the same load on a shared machine. Each
    operation gets the running call number, to cycle through its inputs.
    """
    count = 0
    spent = [0.0, 0.0]
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        for which, operation in enumerate((first, second)):
            start = time.perf_counter()
            for i in range(count, count + batch):
                operation(i)
            spent[which] += time.perf_counter() - start
        count += batch
    return count / spent[0], count / spent[1]


def machine_busy_seconds() -> float:
    """CPU time all processors of the machine have been busy (Linux /proc/stat), anyone's."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle and iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


# --- storage ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Backend:
    """Where a service under test keeps its data."""

    name: str
    database_url: str
    schema: str | None
    cache_url: str
    cache_prefix: str
    scratch: Path | None = None  # a temporary directory of ours, removed at the end


async def postgres_and_redis_answer() -> str | None:
    """None when PostgreSQL and Redis both answer, else why not."""
    try:
        connection = await asyncpg.connect(PG_URL, timeout=3)
        await connection.close()
        client = redis.from_url(REDIS_URL, socket_connect_timeout=3)
        try:
            await client.ping()
        finally:
            await client.aclose()
    except Exception as exc:
        return str(exc) or type(exc).__name__
    return None


async def cleanup(backend: Backend) -> None:
    """Drop the PostgreSQL schema, the Redis keys and the SQLite files of this run."""
    if backend.scratch is not None:
        shutil.rmtree(backend.scratch, ignore_errors=True)
    if backend.schema:
        connection = await asyncpg.connect(backend.database_url)
        try:
            await connection.execute(f'DROP SCHEMA IF EXISTS "{backend.schema}" CASCADE')
        finally:
            await connection.close()
    if backend.cache_url.startswith("redis"):
        client = redis.from_url(backend.cache_url)
        try:
            keys = [key async for key in client.scan_iter(match=backend.cache_prefix + ":*")]
            if keys:
                await client.delete(*keys)
        finally:
            await client.aclose()


# --- a service in its own process -------------------------------------------------------------


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def wait_until_ready(base_url: str, server: subprocess.Popen[bytes]) -> None:
    """Poll /readyz until the service answers (or give up)."""
    deadline = time.monotonic() + START_TIMEOUT
    async with httpx.AsyncClient(base_url=base_url, timeout=2) as client:
        while time.monotonic() < deadline:
            if server.poll() is not None:
                raise RuntimeError(f"the service exited with {server.returncode}")
            with contextlib.suppress(httpx.TransportError):
                if (await client.get("/readyz")).status_code == 200:
                    return
            await asyncio.sleep(0.1)  # polling a starting process, not timing a test
    raise RuntimeError(f"the service did not become ready within {START_TIMEOUT:g} s")


def tail(path: Path, size: int = 4000) -> str:
    """The end of a process's output, to show why it failed."""
    return path.read_text(errors="replace")[-size:] if path.exists() else ""


def stop_service(server: subprocess.Popen[bytes]) -> None:
    """SIGINT for a graceful stop (lifespan shutdown); kill if it hangs."""
    if server.poll() is None:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
