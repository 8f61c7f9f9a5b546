"""Witness cosignatures per second: in-process (ASGI) and over a real socket (issue 14).

Run: `.venv/bin/python -m loadtests.bench_witness [--seconds S] [--logs L]`

Each submission is a real C2SP tlog-witness add-checkpoint: a new checkpoint of a log that
grew by a few entries, signed by the log's key, with the consistency proof from the size
the witness holds. The witness parses it, verifies the log's signature and the proof, swaps
its stored checkpoint in its SQLite file (synchronous=FULL, so an fsync per cosignature),
and answers with a cosignature/v1 line. Requests are prepared (signed, proved) before the
clock starts, so the figures are the witness's, not the client's.

Phases, each bounded by `--seconds`:
- raw cosign: `CosignatureSigner.cosign` alone, the floor of what a witness could do;
- ASGI, one log: one submission at a time through httpx's ASGI transport, in this process;
- ASGI, L logs: L logs submitting at once (each log's submissions are sequential by nature:
  each proves from the previous one);
- socket, one log and L logs: the same against `ketenpas witness serve` in a process of its
  own on 127.0.0.1 (uvicorn, one worker).
"""

import argparse
import asyncio
import base64
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from loadtests.harness import free_port, log, machine_busy_seconds, stop_service, tail
from services.witness.app import create_app
from services.witness.settings import WitnessSettings
from shared.tlog import merkle
from shared.tlog.checkpoint import Checkpoint, sign_checkpoint
from shared.tlog.cosignature import CosignatureSigner
from shared.tlog.note import Signer, verifier_key
from shared.tlog.witness_protocol import format_add_checkpoint

WITNESS_SEED = bytes(range(32))
GROWTH = 7  # entries per checkpoint


class BenchLog:
    """A log in memory that keeps every complete subtree, so each proof is O(log n)."""

    def __init__(self, number: int) -> None:
        seed = bytes([number + 1]) * 32
        self.signer = Signer(f"bench.test/log{number}", Ed25519PrivateKey.from_private_bytes(seed))
        self.tree = merkle.CompactRange.empty()
        self.nodes: dict[merkle.Node, bytes] = {}

    @property
    def vkey(self) -> str:
        return verifier_key(self.signer.name, self.signer.public_key)

    def requests(self, count: int) -> list[bytes]:
        """`count` add-checkpoint bodies, each from the size of the one before (first: 0)."""
        bodies = []
        old = 0
        for _ in range(count):
            for _ in range(GROWTH):
                leaf = merkle.leaf_hash(os.urandom(32))
                for node, node_hash in self.tree.append(leaf):
                    self.nodes[node] = node_hash
            size = self.tree.size
            proof = (
                merkle.build_proof_sync(
                    merkle.consistency_proof_plan(old, size), self.nodes.__getitem__
                )
                if old
                else []
            )
            note = sign_checkpoint(
                Checkpoint(self.signer.name, size, self.tree.root()), self.signer
            )
            bodies.append(format_add_checkpoint(old, proof, note))
            old = size
        return bodies


async def run_log(client: httpx.AsyncClient, bodies: list[bytes], deadline: float) -> int:
    """Submit one log's bodies in order until the deadline; how many were cosigned."""
    done = 0
    for body in bodies:
        if time.perf_counter() >= deadline:
            break
        response = await client.post("/add-checkpoint", content=body)
        if response.status_code != 200:
            raise RuntimeError(f"witness answered {response.status_code}: {response.text[:200]}")
        done += 1
    return done


async def measure(
    make_client: Callable[[], httpx.AsyncClient], logs: list[list[bytes]], seconds: float
) -> tuple[int, float]:
    """(cosignatures, seconds) for these logs submitting at once."""
    async with make_client() as client:
        start = time.perf_counter()
        counts = await asyncio.gather(*(run_log(client, b, start + seconds) for b in logs))
        return sum(counts), time.perf_counter() - start


def raw_cosign(seconds: float) -> float:
    signer = CosignatureSigner("bench.test/w", Ed25519PrivateKey.from_private_bytes(WITNESS_SEED))
    text = "bench.test/log0\n1000\n" + base64.b64encode(b"\1" * 32).decode() + "\n"
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        signer.cosign(text, 1_700_000_000 + done)
        done += 1
    return done / (time.perf_counter() - start)


def report(name: str, count: int, elapsed: float) -> None:
    log(f"{name:<28} {count:>7} cosignatures in {elapsed:5.2f} s = {count / elapsed:8.0f}/s")


async def main(seconds: float, log_count: int, per_log: int) -> None:
    log(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs; {seconds:g} s per phase")
    busy_before, wall_before = machine_busy_seconds(), time.monotonic()
    log(f"{'raw cosign (Ed25519)':<28} {raw_cosign(seconds):22.0f}/s")
    with tempfile.TemporaryDirectory() as folder:
        for phase, count in (("one log", 1), (f"{log_count} logs", log_count)):
            logs = [BenchLog(n) for n in range(count)]
            bodies = [bench.requests(per_log) for bench in logs]
            settings = WitnessSettings(
                name="bench.test/w",
                signing_key=base64.b64encode(WITNESS_SEED).decode(),
                database_path=Path(folder) / f"asgi-{count}.sqlite3",
                logs=[bench.vkey for bench in logs],
            )
            app = create_app(settings)
            async with app.router.lifespan_context(app):
                transport = httpx.ASGITransport(app=app)
                done, elapsed = await measure(
                    lambda t=transport: httpx.AsyncClient(transport=t, base_url="http://w"),  # type: ignore[misc]
                    bodies,
                    seconds,
                )
            report(f"ASGI, {phase}", done, elapsed)

        for phase, count in (("one log", 1), (f"{log_count} logs", log_count)):
            logs = [BenchLog(100 + n) for n in range(count)]
            bodies = [bench.requests(per_log) for bench in logs]
            port = free_port()
            output = Path(folder) / f"witness-{count}.log"
            env = {
                **os.environ,
                "KETENPAS_WITNESS_PORT": str(port),
                "KETENPAS_WITNESS_NAME": "bench.test/w",
                "KETENPAS_WITNESS_SIGNING_KEY": base64.b64encode(WITNESS_SEED).decode(),
                "KETENPAS_WITNESS_DATABASE_PATH": str(Path(folder) / f"socket-{count}.sqlite3"),
                "KETENPAS_WITNESS_LOGS": json.dumps([bench.vkey for bench in logs]),
                "KETENPAS_WITNESS_LOG_LEVEL": "WARNING",
            }
            server = start_witness(env, output)
            base = f"http://127.0.0.1:{port}"
            try:
                await wait_ready(base, server, output)
                done, elapsed = await measure(
                    lambda url=base: httpx.AsyncClient(base_url=url, timeout=10),  # type: ignore[misc]
                    bodies,
                    seconds,
                )
                report(f"socket, {phase}", done, elapsed)
            finally:
                stop_service(server)
    busy = machine_busy_seconds() - busy_before
    wall = time.monotonic() - wall_before
    log(f"machine busy {busy:.1f} CPU-s over {wall:.1f} s of wall time (all processes)")


def start_witness(env: dict[str, str], output: Path) -> subprocess.Popen[bytes]:
    """`ketenpas witness serve` in a process of its own (started before any clock runs)."""
    with output.open("wb") as sink:
        return subprocess.Popen(
            [sys.executable, "-m", "services.cli", "witness", "serve"],
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )


async def wait_ready(base: str, server: subprocess.Popen[bytes], output: Path) -> None:
    """Poll the witness's /readyz until it answers (a starting process, not a timing)."""
    async with httpx.AsyncClient(base_url=base, timeout=2) as client:
        for _ in range(300):
            if server.poll() is not None:
                raise RuntimeError(f"the witness exited: {tail(output)}")
            with suppress(httpx.TransportError):
                if (await client.get("/readyz")).status_code == 200:
                    return
            await asyncio.sleep(0.1)
    raise RuntimeError(f"the witness did not become ready: {tail(output)}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="time per phase")
    parser.add_argument("--logs", type=int, default=8, help="logs submitting at once")
    parser.add_argument(
        "--per-log", type=int, default=3000, help="requests prepared per log (an upper bound)"
    )
    arguments = parser.parse_args()
    asyncio.run(main(arguments.seconds, arguments.logs, arguments.per_log))
