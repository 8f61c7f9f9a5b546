"""Benchmark of the token endpoint (`POST /v1/token`) over real HTTP.

Run: `.venv/bin/python -m loadtests.bench_token_endpoint [--seconds 10] [--concurrency 32]`

For each backend the identity service runs as its own uvicorn process on 127.0.0.1 (a
free port), built by `create_app` from its settings as in production, with the audit-log
sequencer running: first on a temporary SQLite file with the in-process cache, then, when
they answer, on PostgreSQL (a schema of our own, dropped at the end) with Redis (a key
prefix of our own). `--parties` parties get an Ed25519 key each; client assertions are
signed before the clock starts (a fresh `jti` each, round robin over the parties), then
httpx fires them with `--concurrency` requests in flight until `--seconds` have passed or
the assertions run out. Every request is a full token issuance: verify the assertion,
spend its jti in the cache and the database, sign an access token, append an audit event.

Figures go to stdout: requests per second, latency percentiles, and failures by status
and problem code. The client shares the machine with the server; at high rates it is
part of what is measured. The script stops by itself: the run is time-bounded, every
request has a timeout, and the server is stopped (and killed if it must) at the end.
"""

import argparse
import asyncio
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from joserfc.jwk import OKPKey

from loadtests.harness import (
    PG_URL,
    REDIS_URL,
    Backend,
    b64url,
    cleanup,
    free_port,
    log,
    postgres_and_redis_answer,
    stop_service,
    tail,
    wait_until_ready,
)
from services.identity.app import MIGRATIONS
from services.identity.credentials import service as credentials
from services.identity.keys.models import PartyKey
from services.identity.oauth.service import ASSERTION_TYPE
from services.identity.parties.models import Party
from services.identity.settings import IdentitySettings
from services.identity.signing import service as signing
from shared import jose
from shared.db import create_engine, session_factory, transaction
from shared.migrate import upgrade

# An assertion lives at most 30 s after iat, plus 30 s of clock leeway: the whole run must
# fit in that window, since every assertion is signed before it starts.
MAX_SECONDS = 45.0
WARM_UP_REQUESTS = 50


@dataclass
class Result:
    """What one run measured."""

    backend: str
    requests: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    failures: Counter[str] = field(default_factory=Counter)

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else 0.0

    def percentile(self, p: float) -> float:
        """The p-th percentile of latency in milliseconds (nearest rank)."""
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        rank = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered)) - 1))
        return ordered[rank] * 1000


class AssertionSigner:
    """Signs one party's client assertions fast: the header is encoded once."""

    def __init__(self, party_id: str, key: OKPKey, audience: str) -> None:
        self.party_id = party_id
        self.audience = audience
        header = {"alg": "Ed25519", "typ": "client-authentication+jwt", "kid": jose.thumbprint(key)}
        self._header = b64url(json.dumps(header, separators=(",", ":")).encode())
        private = key.private_key
        assert isinstance(private, Ed25519PrivateKey)
        self._private = private

    def sign(self, now: int) -> str:
        claims = {
            "iss": self.party_id,
            "sub": self.party_id,
            "aud": self.audience,
            "iat": now,
            "exp": now + 30,
            "jti": uuid.uuid4().hex,
        }
        signing_input = (
            f"{self._header}.{b64url(json.dumps(claims, separators=(',', ':')).encode())}"
        )
        return f"{signing_input}.{b64url(self._private.sign(signing_input.encode()))}"


async def reachable_backends(run_id: str) -> list[Backend]:
    """SQLite always; PostgreSQL with Redis when both answer."""
    directory = Path(tempfile.mkdtemp(prefix="kp-bench-token-"))
    backends = [
        Backend(
            "SQLite + in-process cache",
            f"sqlite:///{directory / 'identity.sqlite3'}",
            None,
            "memory://",
            f"kp-bench:{run_id}",
            scratch=directory,
        )
    ]
    problem = await postgres_and_redis_answer()
    if problem is not None:
        log(f"PostgreSQL + Redis skipped: {problem}")
        return backends
    backends.append(
        Backend(
            "PostgreSQL + Redis",
            PG_URL,
            f"kp_bench_token_{run_id}",
            REDIS_URL,
            f"kp-bench:{run_id}",
        )
    )
    return backends


def service_environment(backend: Backend, port: int) -> dict[str, str]:
    """The child's environment: its settings, as a deployment would give them."""
    env = {
        key: value for key, value in os.environ.items() if not key.startswith("KETENPAS_IDENTITY_")
    }
    env.update(
        {
            "KETENPAS_IDENTITY_DATABASE_URL": backend.database_url,
            "KETENPAS_IDENTITY_CACHE_URL": backend.cache_url,
            "KETENPAS_IDENTITY_CACHE_PREFIX": backend.cache_prefix,
            "KETENPAS_IDENTITY_HOST": "127.0.0.1",
            "KETENPAS_IDENTITY_PORT": str(port),
            "KETENPAS_IDENTITY_LOG_LEVEL": "WARNING",
        }
    )
    if backend.schema:
        env["KETENPAS_IDENTITY_DATABASE_SCHEMA"] = backend.schema
    return env


async def prepare(settings: IdentitySettings, parties: int) -> list[AssertionSigner]:
    """Migrate the database and register `parties` carrier parties with a key each, each key
    certified by a credential (the token endpoint accepts only certified keys)."""
    await upgrade(settings, MIGRATIONS)
    engine = create_engine(settings.database_url, schema=settings.database_schema)
    signers = []
    try:
        async with transaction(session_factory(engine)) as session:
            now = datetime.now(UTC)
            await signing.ensure_key(session, settings, now)
            await session.flush()
            ring = await signing.load_keyring(session, settings, now)
            if ring.signing is None:
                raise RuntimeError("the identity service has no signing key")
            _, service_key = ring.signing
            for number in range(parties):
                party_id = f"EU.EORI.NL{900_000_000 + number}"
                key = jose.generate_key()
                session.add(Party(id=party_id, name=f"Bench carrier {number}", roles=["carrier"]))
                await session.flush()
                session.add(
                    PartyKey(
                        kid=jose.thumbprint(key), party_id=party_id, public_jwk=jose.public_jwk(key)
                    )
                )
                await session.flush()
                await credentials.issue_credential(
                    session,
                    party_id=party_id,
                    kid=jose.thumbprint(key),
                    roles=None,
                    settings=settings,
                    signing_key=service_key,
                    actor="bench",
                    now=now,
                )
                signers.append(AssertionSigner(party_id, key, settings.issuer))
    finally:
        await engine.dispose()
    return signers


def start_service(env: dict[str, str], port: int, log_path: Path) -> subprocess.Popen[bytes]:
    """uvicorn serving the identity app from its factory, in its own process."""
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "services.identity.app:create_app",
        "--factory",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    with log_path.open("wb") as output:
        return subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT)


async def fire(
    base_url: str, assertions: Iterator[str], *, concurrency: int, seconds: float, result: Result
) -> None:
    """Send token requests with `concurrency` in flight until time or assertions run out."""
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=10) as client:

        async def one(assertion: str) -> tuple[float, int, str]:
            started = time.perf_counter()
            try:
                response = await client.post(
                    "/v1/token",
                    data={
                        "grant_type": "client_credentials",
                        "client_assertion_type": ASSERTION_TYPE,
                        "client_assertion": assertion,
                    },
                )
            except httpx.HTTPError as exc:
                return time.perf_counter() - started, 0, type(exc).__name__
            elapsed = time.perf_counter() - started
            if response.status_code == 200:
                return elapsed, 200, ""
            try:
                code = str(response.json().get("code", ""))
            except ValueError:
                code = "not-json"
            return elapsed, response.status_code, code

        for _ in range(WARM_UP_REQUESTS):
            _, status, code = await one(next(assertions))
            if status != 200:
                raise RuntimeError(f"warm-up request refused: {status} {code}")

        start = time.perf_counter()
        deadline = start + seconds

        async def worker() -> None:
            while time.perf_counter() < deadline:
                assertion = next(assertions, None)
                if assertion is None:
                    return
                elapsed, status, code = await one(assertion)
                result.requests += 1
                if status == 200:
                    result.latencies.append(elapsed)
                else:
                    result.failures[f"{status} {code}".strip()] += 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        result.seconds = time.perf_counter() - start


async def run_backend(backend: Backend, args: argparse.Namespace) -> Result:
    """Prepare, serve, fire, stop and clean up for one backend."""
    port = free_port()
    env = service_environment(backend, port)
    settings = IdentitySettings(
        database_url=backend.database_url,
        database_schema=backend.schema,
        port=port,
    )
    result = Result(backend.name)
    log_path = Path(tempfile.mkstemp(prefix="kp-bench-token-", suffix=".log")[1])
    server: subprocess.Popen[bytes] | None = None
    try:
        log(f"{backend.name}: migrating and registering {args.parties} parties")
        signers = await prepare(settings, args.parties)
        server = start_service(env, port, log_path)
        base_url = f"http://127.0.0.1:{port}"
        await wait_until_ready(base_url, server)
        log(f"{backend.name}: signing {args.max_requests + WARM_UP_REQUESTS} assertions")
        now = int(time.time())
        pool = [
            signers[i % len(signers)].sign(now) for i in range(args.max_requests + WARM_UP_REQUESTS)
        ]
        log(f"{backend.name}: firing for {args.seconds:g} s at concurrency {args.concurrency}")
        await fire(
            base_url,
            iter(pool),
            concurrency=args.concurrency,
            seconds=args.seconds,
            result=result,
        )
    except Exception:
        log(tail(log_path))
        raise
    finally:
        if server is not None:
            stop_service(server)
        log_path.unlink(missing_ok=True)  # noqa: ASYNC240  (a local temp file, once)
        await cleanup(backend)
    return result


def report(results: list[Result], args: argparse.Namespace) -> None:
    """The figures, one line per backend."""
    print(
        f"token endpoint over HTTP: {args.parties} parties, concurrency {args.concurrency}, "
        f"{args.seconds:g} s per backend; {platform.python_implementation()} "
        f"{platform.python_version()}, {os.cpu_count()} CPUs, client and server on one machine"
    )
    print(
        f"{'backend':<28}{'requests':>10}{'req/s':>10}{'p50 ms':>9}{'p95 ms':>9}"
        f"{'p99 ms':>9}{'failures':>10}"
    )
    for result in results:
        print(
            f"{result.backend:<28}{result.requests:>10}{result.per_second:>10.0f}"
            f"{result.percentile(50):>9.1f}{result.percentile(95):>9.1f}"
            f"{result.percentile(99):>9.1f}{sum(result.failures.values()):>10}"
        )
        for failure, count in result.failures.most_common():
            print(f"    {count} x {failure}")


async def main_async(args: argparse.Namespace) -> list[Result]:
    run_id = uuid.uuid4().hex[:8]
    backends = await reachable_backends(run_id)
    chosen = [
        b for b in backends if args.backend == "all" or b.name.lower().startswith(args.backend)
    ]
    for backend in backends:
        if backend not in chosen and backend.scratch is not None:
            shutil.rmtree(backend.scratch, ignore_errors=True)
    return [await run_backend(backend, args) for backend in chosen]


def main() -> int:
    """Parse arguments, run each backend, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="firing time per backend")
    parser.add_argument("--concurrency", type=int, default=32, help="requests in flight")
    parser.add_argument("--parties", type=int, default=20, help="API client parties")
    parser.add_argument(
        "--max-requests", type=int, default=30_000, help="assertions signed per backend"
    )
    parser.add_argument("--backend", choices=["all", "sqlite", "postgresql"], default="all")
    args = parser.parse_args()
    if not 0 < args.seconds <= MAX_SECONDS:
        parser.error(f"--seconds must be in (0, {MAX_SECONDS:g}]: assertions expire")
    if args.concurrency < 1 or args.parties < 1 or args.max_requests < 1:
        parser.error("--concurrency, --parties and --max-requests must be positive")
    results = asyncio.run(main_async(args))
    report(results, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
