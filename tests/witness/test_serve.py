"""`ketenpas witness serve` in a process of its own, over a real socket."""

import asyncio
import base64
import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path

import httpx
import pytest

from shared.tlog.cosignature import (
    merge_signature_lines,
    parse_cosigner_key,
    verify_cosignatures,
)
from shared.tlog.witness_protocol import submit
from tests.witness.conftest import WITNESS_SEED, MemoryLog

LOG = MemoryLog().grow(9)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    env = {
        **os.environ,
        "KETENPAS_WITNESS_PORT": str(port),
        "KETENPAS_WITNESS_NAME": "witness.test/served",
        "KETENPAS_WITNESS_SIGNING_KEY": base64.b64encode(WITNESS_SEED).decode(),
        "KETENPAS_WITNESS_DATABASE_PATH": str(tmp_path / "w.sqlite3"),
        "KETENPAS_WITNESS_LOGS": json.dumps([LOG.vkey]),
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "services.cli", "witness", "serve"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


async def until_ready(url: str) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=2) as client:
        for _ in range(300):
            with suppress(httpx.TransportError):
                if (await client.get("/readyz")).status_code == 200:
                    return
            await asyncio.sleep(0.1)  # polling a starting process, not timing a test
    raise AssertionError("the witness did not start")


async def test_the_served_witness_cosigns_over_http(served: str) -> None:
    await until_ready(served)
    async with httpx.AsyncClient(timeout=10) as client:
        about = (await client.get(served + "/")).json()
        assert about["logs"] == [LOG.signer.name]
        answer = await submit(client, served, 0, [], LOG.note())
        assert answer.status == 200
        cosigned = merge_signature_lines(LOG.note(), answer.lines)
        assert verify_cosignatures(cosigned, [parse_cosigner_key(about["key"])])
        stale = await submit(client, served, 0, [], LOG.note())
        assert (stale.status, stale.held_size) == (409, 9)
