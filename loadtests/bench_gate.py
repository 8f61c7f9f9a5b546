"""A busy gate over real HTTP: decisions and gate-outs per second, latency, failures.

Run: `.venv/bin/python -m loadtests.bench_gate [--seconds 20] [--rates 10,20,50,100,150]
[--backends embedded,postgres] [--release-workers 1,2] [--inspect-probability P]
[--profile PATH] [--subscribers 50 --silent-subscribers 10] [--through-proxy]
[--reference REV]`

For each backend the identity and the release service run as their own processes
(`python -m services.cli serve identity|release`, i.e. `ketenpas serve`, from environment
settings as a deployment gives them) on free 127.0.0.1 ports, the release service pointed
at the identity service (`KETENPAS_RELEASE_IDENTITY_URL`) with
`KETENPAS_RELEASE_INSPECT_PROBABILITY` from `--inspect-probability` (default 0, so that every
well-formed pickup is released):

- `embedded`: SQLite files in a temporary directory and in-process caches, as `make run`;
- `postgres`: PostgreSQL (a schema of our own per service, dropped at the end) and Redis
  (a key prefix of our own per service, deleted at the end), when both answer.

Preparation (`loadtests.gate_setup`, whose docstring says why most chains are written to
the database directly): parties, keys, credentials and drivers straight into the identity
database; terminal client tokens from `POST /v1/token` (private_key_jwt) and one sign-in per
driver (`POST /v1/sessions`, password + TOTP); a few chains built through the release API
with pre-signed links, used as unmeasured warm-up pickups together with a few written ones;
then, before each rate step, enough releases with whole accepted chains of 4 to 6 links for
that step, written to the release database with the API's rows and audit events (and the
audit log drained, so the sequencer is idle when the clock starts).

Every decision that would release makes a verifiable inspection draw (`select_at_gate` ->
`draws.draw`: a VRF proof over the log's latest checkpoint, an audit event and a row), whatever
the probability: with 0 every draw says `release`. The draws and the decisions by outcome
made during each step are counted in the release database and printed beside the figures.
With `--inspect-probability` above 0 some decisions answer `inspect` (`random_inspection`):
an expected answer, counted apart, not a failure, and that pickup has no gate-out.

Each rate step runs `locust` headless as a subprocess (`loadtests/gate_locustfile.py`):
lanes spread over the terminals at a constant throughput each, for `--seconds`, statistics
reset once every lane has started. A pickup is decision and gate-out; the drivers' gate
passes are fetched from the identity service just before each step (they live 120 s), as
phones do at their own pace on the identity service's machines (`--no-prefetch-gate-passes`:
each pickup fetches its own, reported apart but sharing the CPU). The release service runs
once in one process and once in two (`ketenpas serve` with `WORKERS`, one per core of this
machine, as a deployment runs it), side by side; `--release-workers 2` (or any list) runs
only those. Failures are every answer other than 201 `release` (or `inspect` for a random
inspection, when the probability is above 0) / 200, by request and reason. A step is
sustainable when the p99 of decisions and of gate-outs is under 50 ms, nothing failed, and
the achieved rate is at least 95% of the offered one.
After the first step that is neither sustainable nor within 90% of its rate (the service is
saturated) only the target rate's step still runs, so that the target is always judged
(`--all-steps` runs every step). `--profile PATH` runs the release service under cProfile
and leaves its statistics in PATH.<backend>-w<processes>.prof (with more than one process,
only uvicorn's supervisor is profiled: profile with `--release-workers 1`).

With `--subscribers N` (issue 15's webhook benchmark, `loadtests/bench_webhooks.py`) every
rate step runs twice, side by side: first with no subscription (the reference), then with N
subscriptions to gate decisions and gate-outs, made through `POST /v1/subscriptions` by the
told parties' admins, `--silent-subscribers` of them pointed at local receivers that accept
the connection and never answer, the others at receivers that answer 204 at once
(`loadtests/webhook_receivers.py`, on 127.0.0.1 in this process). Loopback endpoints need the
release service in development mode with `KETENPAS_RELEASE_WEBHOOK_ALLOW_PRIVATE=true` (and
the demo webhook key that development falls back on), which the benchmark gives it then.
After the subscribed step the benchmark waits up to `--settle-seconds` for the answering
subscribers' deliveries, prints what every subscriber got, and deletes the subscriptions.
`--webhooks-apart` runs the dispatcher in a process of its own (`ketenpas webhooks run`,
`services/release/webhooks/cli.py`) beside a release service with `RUN_WEBHOOKS=false`, and
prints that process's CPU beside the release service's; `--dispatcher-nice N` starts it under
`nice -n N`, so that on this one machine it takes only the CPU the gate leaves, as it does
on CPU of its own (its own container's CPU request) in a deployment.

With `--through-proxy` (issue 16, replicas) every rate step runs again through Debian's
nginx (`loadtests/reverse_proxy.py`, a config of its own in the run's folder) in front of as
many release processes as the direct run has workers, each `ketenpas serve release` with one
worker on a port of its own, as replicas run in a deployment; nginx balances round-robin over
kept-alive connections and never resends a POST. The direct step (uvicorn's workers on one
socket) and the step through nginx are printed side by side; 'cpu rel' of the proxied step is
the replicas' together, and nginx's own CPU is printed beside it. The replicas stay idle
during the direct steps (and the direct service during the proxied ones).

With `--reference REV` (issue 16: today's code measured beside an earlier revision in one run)
the revision's tree is extracted into the run's folder (`git archive REV`, so nothing is left
in the repository; `loadtests/reference_code.py`) and a second release service runs from it:
`ketenpas serve release` with the same settings as today's (database and schema, cache and
prefix, identity service, workers; a port of its own), the same interpreter, `cwd` and
`PYTHONPATH` the tree. Before it starts, the same interpreter with the same environment and
folder must import `services`, `shared` and the release app from the tree, or the run stops;
the modules' files are logged. Only the release service comes from REV: the identity service,
the migrations, the seeding and each step's releases (written directly) are today's code, so
REV must work on today's schema and rows. It does when the changes since are added indexes,
tables or columns with defaults (and for the rows that the gate reads, as written now); a
renamed column or a new meaning of one is not. Every rate step then runs twice, side by side,
each with its own freshly prepared releases: the two rows are labelled `ref <hash>` and `now`
and a comparison line follows. The order alternates from one step to the next, the reference
first in the first step: both services share the database, which grows by each step's
releases, and the machine, whose other work comes and goes, so a fixed order would always
give the same code the later, larger database and the same moment after the other's load;
repeat a rate (`--rates 200,200`) to see it in both orders. The warm-up runs against both
services, and the one not measured stays idle; its background work (the audit sequencer,
which takes whatever events are pending when it holds the log's lock) may still do some of
the other's work, so its CPU during the step is printed beside the measured one. The key
figure is the release service's CPU per decision (its processes' CPU seconds in the step over
the decisions made in it, each with its gate-out), printed for both; the comparison line also
gives it less each service's idle CPU (measured while the other was loaded), which at low
rates is most of the first figure. The maximum sustainable
rate and the target's verdict are today's code's; the saturation stop follows today's code
too. `--reference` is refused with `--through-proxy`, `--subscribers` and `--webhooks-apart`
(each would need the reference's own replicas, subscriptions or dispatcher), and `--profile`
profiles today's release service only.

Figures go to stdout, progress to stderr. Everything is bounded: each locust run by its
run time plus a grace period, each request by a timeout, the servers are stopped (killed if
they must be) at the end, and the schemas, Redis keys and files of the run are removed.
Client, services and databases share this machine: at high rates the client is part of
what is measured; the CPU each process used, and the whole machine's, is printed beside
the figures, so that a step disturbed by other work on the machine shows as such.
"""

import argparse
import asyncio
import contextlib
import csv
import dataclasses
import itertools
import json
import math
import os
import platform
import random
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text

from loadtests import alert_watch, bench_webhooks, gate_setup, reference_code, reverse_proxy
from loadtests.harness import (
    PG_URL,
    REDIS_URL,
    Backend,
    cleanup,
    free_port,
    log,
    machine_busy_seconds,
    postgres_and_redis_answer,
    stop_service,
    tail,
    wait_until_ready,
)
from services.identity.app import MIGRATIONS as IDENTITY_MIGRATIONS
from services.identity.settings import IdentitySettings
from services.release.app import MIGRATIONS as RELEASE_MIGRATIONS
from services.release.gate.models import GateDecision
from services.release.inspections.models import Draw
from services.release.settings import ReleaseSettings
from shared.db import create_engine, session_factory
from shared.migrate import upgrade
from shared.settings import ServiceSettings

LOCUSTFILE = Path(__file__).with_name("gate_locustfile.py")
# The request names of the locustfile (not imported: importing locust monkey-patches the
# process for gevent, which this asyncio program must not be).
GATE_PASS, DECISION, COMPLETE = "gate pass (identity)", "decision", "complete"
P99_LIMIT_MS = 50.0
TARGET_RATE = 100.0  # the target: p99 < 50 ms at 100 decisions/s on PostgreSQL + Redis
ACHIEVED_SHARE = 0.95  # a step must achieve this share of its offered rate to count
SATURATED_SHARE = 0.90  # below this share the service is saturated: stop stepping
LOCUST_GRACE_SECONDS = 60  # beyond --run-time before the locust process is killed
# Driver tokens must stay within the identity service's second-factor window (15 min by
# default) for gate passes; they are renewed before a step once they are this old.
SIGN_IN_RENEW_SECONDS = 600
CLIENT_TOKEN_RENEW_SECONDS = 3000  # access tokens live an hour
MAX_RUN_SECONDS = 600.0


@dataclass(frozen=True)
class Stack:
    """Where both services of one backend keep their data."""

    name: str
    label: str
    identity: Backend
    release: Backend
    workers: int  # release service processes


@dataclass(frozen=True)
class Figures:
    """One request kind of one step, from locust's statistics."""

    count: int = 0
    failures: int = 0
    per_second: float = 0.0
    p50: float = math.nan
    p95: float = math.nan
    p99: float = math.nan
    max: float = math.nan


@dataclass
class Step:
    """One rate step of one backend."""

    rate: float
    lanes: int
    prepared: int
    prepare_seconds: float
    decisions: Figures = field(default_factory=Figures)
    completions: Figures = field(default_factory=Figures)
    gate_passes: Figures = field(default_factory=Figures)
    failures: Counter[str] = field(default_factory=Counter)
    cpu: dict[str, float] = field(default_factory=dict)  # process -> share of one core
    # Made during the step, from the release database: "draws", and decisions by outcome.
    made: Counter[str] = field(default_factory=Counter)
    # With --watch-alerts: how long refused look-ups took to reach port security's stream.
    alerts: alert_watch.AlertLatency | None = None
    # With --subscribers: what the subscribers got (None in the reference step).
    webhooks: bench_webhooks.WebhookFigures | None = None
    # With --through-proxy: this step went through nginx to the release replicas.
    through_proxy: bool = False
    # With --reference: this step ran against the reference revision's release service.
    reference: bool = False
    seconds: float = 0.0  # wall clock of the measured step (locust's start and stop included)

    @property
    def decisions_made(self) -> int:
        """Decisions the release database gained in the step, of every outcome."""
        return sum(self.made[outcome] for outcome in ("release", "inspect", "deny"))

    @property
    def release_cpu_ms_per_decision(self) -> float:
        """CPU of the release service's processes in the step per decision made in it (each
        with its gate-out), in ms."""
        return self.release_cpu_ms_per_decision_above(0.0)

    def release_cpu_ms_per_decision_above(self, idle: float) -> float:
        """The same, less `idle` (a share of one core: what the service uses with no load,
        its background tasks'), in ms: what the decisions themselves cost."""
        made = self.decisions_made
        if not made:
            return math.nan
        return (self.cpu.get("release", 0.0) - idle) * self.seconds / made * 1000

    @property
    def failed(self) -> int:
        """Failed requests of every kind, and errors in the load generator."""
        return sum(self.failures.values())

    @property
    def achieved_share(self) -> float:
        """Achieved decisions per second as a share of the offered rate."""
        return self.decisions.per_second / self.rate

    @property
    def sustainable(self) -> bool:
        """p99 of decisions and gate-outs under the limit, no failure, rate achieved."""
        return (
            self.decisions.p99 < P99_LIMIT_MS
            and self.completions.p99 < P99_LIMIT_MS
            and self.failed == 0
            and self.achieved_share >= ACHIEVED_SHARE
        )


@dataclass
class BackendResult:
    """What one backend measured, with its preparation."""

    stack: Stack
    steps: list[Step] = field(default_factory=list)
    api_chains: int = 0
    api_seconds: float = 0.0
    warm_up_pickups: int = 0
    error: str = ""

    @property
    def max_sustainable(self) -> float | None:
        """The highest sustainable step (of the direct ones, with --through-proxy; of today's
        code, with --reference)."""
        return self.max_sustainable_of(through_proxy=False)

    def max_sustainable_of(self, *, through_proxy: bool, reference: bool = False) -> float | None:
        """The highest sustainable step, direct or through the proxy, of today's code or the
        reference's."""
        rates = [
            step.rate
            for step in self.steps
            if step.sustainable
            and step.through_proxy == through_proxy
            and step.reference == reference
        ]
        return max(rates) if rates else None


def _older(moment: float | None, seconds: float) -> bool:
    return moment is None or time.monotonic() - moment > seconds


@dataclass
class Services:
    """The running services of one backend and what the load needs of them."""

    identity_url: str
    release_url: str
    port: gate_setup.Port
    issuer: str
    identity: subprocess.Popen[bytes]
    release: subprocess.Popen[bytes]
    # With --webhooks-apart: the webhook dispatcher in a process of its own.
    dispatcher: subprocess.Popen[bytes] | None = None
    # With --through-proxy, in the proxied copy: the other release replicas, and nginx.
    more_releases: list[subprocess.Popen[bytes]] = field(default_factory=list)
    proxy: subprocess.Popen[bytes] | None = None
    # With --reference: the other code's release service, idle while this one is measured
    # (its CPU in the step is measured too); `reference` is set in the reference's copy.
    idle_release: subprocess.Popen[bytes] | None = None
    reference: bool = False
    code: str = ""  # with --reference: 'now' or 'ref <hash>', for the progress lines
    client_tokens: dict[str, str] = field(default_factory=dict)
    clients_at: float | None = None  # time.monotonic() when obtained
    driver_tokens: dict[str, str] = field(default_factory=dict)
    drivers_at: float | None = None
    probes_made: int = 0  # alert probes so far: each step goes on with the next clients

    def alert_probers(self) -> list[tuple[str, str]]:
        """The API clients that probe (not the terminals, which carry the gate's load),
        in turn from where the last step stopped, so a client probes once a minute at most."""
        busy = {m.party_id for m in self.port.terminals + self.port.port_security}
        clients = [(p, t) for p, t in sorted(self.client_tokens.items()) if p not in busy]
        start = self.probes_made % len(clients)
        return clients[start:] + clients[:start]

    def release_cpu_seconds(self) -> float:
        """CPU time of the release service's processes (every replica's, when proxied)."""
        return sum(cpu_seconds(p.pid) for p in (self.release, *self.more_releases))

    @property
    def security_token(self) -> str:
        """Port security's client token, which follows the alert stream."""
        return self.client_tokens[self.port.port_security[0].party_id]

    async def renew_tokens(self) -> None:
        """Client tokens and driver sign-ins, obtained again when they would grow too old."""
        async with httpx.AsyncClient(base_url=self.identity_url, timeout=30) as client:
            if _older(self.clients_at, CLIENT_TOKEN_RENEW_SECONDS):
                members = list(self.port.members.values())
                self.client_tokens = await gate_setup.client_tokens(client, members, self.issuer)
                self.clients_at = time.monotonic()
            if _older(self.drivers_at, SIGN_IN_RENEW_SECONDS):
                self.driver_tokens = await gate_setup.sign_in_all(client, self.port.all_drivers)
                self.drivers_at = time.monotonic()


# --- backends and servers ---------------------------------------------------------------------


def stack_for(name: str, run_id: str, scratch: Path, workers: int) -> Stack:
    """The databases and caches of one backend for this run."""
    run_id = f"{run_id}_w{workers}"
    prefix = f"kp-bench-gate:{run_id}"
    if name == "embedded":
        return Stack(
            name,
            "SQLite + in-process cache",
            Backend(
                "identity",
                f"sqlite:///{scratch / 'identity.sqlite3'}",
                None,
                "memory://",
                f"{prefix}:identity",
            ),
            Backend(
                "release",
                f"sqlite:///{scratch / 'release.sqlite3'}",
                None,
                "memory://",
                f"{prefix}:release",
            ),
            workers,
        )
    return Stack(
        name,
        "PostgreSQL + Redis",
        Backend(
            "identity", PG_URL, f"kp_bench_gate_{run_id}_identity", REDIS_URL, f"{prefix}:identity"
        ),
        Backend(
            "release", PG_URL, f"kp_bench_gate_{run_id}_release", REDIS_URL, f"{prefix}:release"
        ),
        workers,
    )


# The settings a benchmark gives each service through its environment.
_ENV_FIELDS = (
    "database_url",
    "database_schema",
    "cache_url",
    "cache_prefix",
    "host",
    "port",
    "log_level",
    "identity_url",
    "inspect_probability",
    "workers",
    "webhook_allow_private",
    "run_webhooks",
)


def settings_environment(prefix: str, settings: ServiceSettings) -> dict[str, str]:
    """The child's environment: ours minus any Ketenpas settings, plus these settings."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("KETENPAS_")}
    for name in _ENV_FIELDS:
        value = getattr(settings, name, None)
        if value is not None:
            env[f"{prefix}{name.upper()}"] = str(value)
    return env


def storage(backend: Backend) -> dict[str, Any]:
    """Storage and cache settings of one service."""
    return {
        "database_url": backend.database_url,
        "database_schema": backend.schema,
        "cache_url": backend.cache_url,
        "cache_prefix": backend.cache_prefix,
        "host": "127.0.0.1",
        "log_level": "WARNING",
    }


def start_server(
    service: str,
    env: dict[str, str],
    log_path: Path,
    *,
    profile: Path | None = None,
    cwd: Path | None = None,
) -> subprocess.Popen[bytes]:
    """`ketenpas serve <service>` in its own process (in `cwd`, when given: the reference's
    tree); under cProfile when `profile` is given (the statistics are written there when the
    server stops)."""
    command = [sys.executable, "-m", "services.cli", "serve", service]
    if profile is not None:
        command[1:1] = ["-m", "cProfile", "-o", str(profile)]
    with log_path.open("wb") as output:
        return subprocess.Popen(command, env=env, cwd=cwd, stdout=output, stderr=subprocess.STDOUT)


def start_dispatcher(
    env: dict[str, str], log_path: Path, *, niceness: int = 0
) -> subprocess.Popen[bytes]:
    """The webhook dispatcher alone (`ketenpas webhooks run`) in its own process, at a lower
    CPU priority by `niceness` (`nice -n`: what its own CPU budget is in a deployment)."""
    command = [sys.executable, "-m", "services.cli", "webhooks", "run"]
    if niceness:
        command[0:0] = ["nice", "-n", str(niceness)]
    with log_path.open("wb") as output:
        return subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT)


async def alive_after(process: subprocess.Popen[bytes], log_path: Path, *, seconds: float) -> None:
    """Fail with its output if the process ends within `seconds` of its start."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            code = process.returncode
            raise RuntimeError(f"the dispatcher exited with {code}:\n{tail(log_path)}")
        await asyncio.sleep(0.2)  # watching a starting process, not timing a test


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a live process and its live descendants (uvicorn's workers)
    have used (Linux /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:  # gone meanwhile
        return 0.0
    own = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    children: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        with contextlib.suppress(OSError):
            children += [int(child) for child in task.read_text().split()]
    return own + sum(cpu_seconds(child) for child in children)


def own_cpu_seconds() -> float:
    """CPU time of this process (with --subscribers: mostly the local receivers)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def children_cpu_seconds() -> float:
    """CPU time of the child processes waited for so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


# --- preparation ------------------------------------------------------------------------------


async def prepare_pickups(
    stack: Stack,
    port: gate_setup.Port,
    count: int,
    *,
    rng: random.Random,
    containers: Iterator[str],
    settings: ReleaseSettings,
) -> list[gate_setup.Pickup]:
    """`count` releases with whole chains, spread evenly over the terminals, written directly;
    the audit log drained and (PostgreSQL) the tables analysed, as a database in use is."""
    plans = [
        gate_setup.plan_chain(
            port, rng, terminal=port.terminals[n % len(port.terminals)], container=next(containers)
        )
        for n in range(count)
    ]
    engine = create_engine(settings.database_url, schema=settings.database_schema)
    try:
        sessions = session_factory(engine)
        pickups = await gate_setup.write_chains(sessions, plans)
        await gate_setup.drain_log(settings, sessions)
        if stack.release.schema:
            async with engine.connect() as connection:
                await connection.exec_driver_sql("ANALYZE")
    finally:
        await engine.dispose()
    return pickups


async def warm_up_pickups(
    stack: Stack,
    port: gate_setup.Port,
    *,
    rng: random.Random,
    containers: Iterator[str],
    settings: ReleaseSettings,
) -> list[gate_setup.Pickup]:
    """Two written releases per terminal, for a service's warm-up."""
    return await prepare_pickups(
        stack, port, 2 * len(port.terminals), rng=rng, containers=containers, settings=settings
    )


async def warm_up(
    services: Services, pickups: Sequence[gate_setup.Pickup], *, inspect_expected: bool
) -> None:
    """Each pickup once through the real path, unmeasured; any refusal is a setup fault (but
    a random inspection, when expected)."""
    terminal_headers = {
        terminal.party_id: {"Authorization": f"Bearer {services.client_tokens[terminal.party_id]}"}
        for terminal in services.port.terminals
    }
    limit = asyncio.Semaphore(4)
    async with (
        httpx.AsyncClient(base_url=services.identity_url, timeout=30) as identity,
        httpx.AsyncClient(base_url=services.release_url, timeout=30) as release,
    ):

        async def one(pickup: gate_setup.Pickup) -> None:
            async with limit:
                token = services.driver_tokens[pickup.driver]
                answer = await identity.post(
                    f"/v1/people/{pickup.driver}/gate-pass",
                    headers={"Authorization": f"Bearer {token}"},
                )
                if answer.status_code != 200:
                    raise RuntimeError(f"warm-up gate pass: {answer.status_code} {answer.text}")
                headers = terminal_headers[pickup.terminal]
                answer = await release.post(
                    "/v1/gate/decisions",
                    json={"container": pickup.container, "gate_pass": answer.json()["gate_pass"]},
                    headers=headers,
                )
                decision = answer.json() if answer.status_code == 201 else {}
                if inspect_expected and decision.get("decision") == "inspect":
                    return  # selected by its draw: no gate-out
                if decision.get("decision") != "release":
                    raise RuntimeError(f"warm-up decision: {answer.status_code} {answer.text}")
                decision_id = decision["decision_id"]
                answer = await release.post(
                    f"/v1/gate/decisions/{decision_id}/complete", headers=headers
                )
                if answer.status_code != 200:
                    raise RuntimeError(f"warm-up gate-out: {answer.status_code} {answer.text}")

        await asyncio.gather(*(one(pickup) for pickup in pickups))


async def api_chains(
    services: Services, count: int, *, rng: random.Random, containers: Iterator[str]
) -> list[gate_setup.Pickup]:
    """`count` chains through the release API, a few at a time."""
    limit = asyncio.Semaphore(4)
    port = services.port
    async with httpx.AsyncClient(base_url=services.release_url, timeout=30) as client:

        async def one(n: int) -> gate_setup.Pickup:
            plan = gate_setup.plan_chain(
                port,
                rng,
                terminal=port.terminals[n % len(port.terminals)],
                container=next(containers),
            )
            async with limit:
                return await gate_setup.build_chain_via_api(
                    client,
                    plan,
                    tokens=services.client_tokens,
                    driver_token=services.driver_tokens[str(plan.driver.person_id)],
                )

        return list(await asyncio.gather(*(one(n) for n in range(count))))


async def made_so_far(settings: ReleaseSettings) -> Counter[str]:
    """Draws and decisions by outcome in the release database, to count a step's."""
    engine = create_engine(settings.database_url, schema=settings.database_schema)
    try:
        async with engine.connect() as connection:
            draws = await connection.scalar(text(f"SELECT count(*) FROM {Draw.__tablename__}"))
            rows = await connection.execute(
                text(
                    f"SELECT decision, count(*) FROM {GateDecision.__tablename__} GROUP BY decision"
                )
            )
            made: Counter[str] = Counter({str(outcome): int(n) for outcome, n in rows.all()})
            made["draws"] = int(draws or 0)
    finally:
        await engine.dispose()
    return made


# --- one rate step ----------------------------------------------------------------------------


def lanes_for(rate: float, lane_rate: float, terminals: int) -> int:
    """Enough lanes at `lane_rate` for `rate`, the same number at every terminal."""
    per_terminal = max(1, math.ceil(rate / lane_rate / terminals))
    return per_terminal * terminals


def write_plan(
    path: Path,
    services: Services,
    pickups: Sequence[gate_setup.Pickup],
    passes: dict[str, str] | None = None,
) -> None:
    """The locustfile's plan; it holds tokens, so only the owner may read it."""
    document = {
        "identity_url": services.identity_url,
        "drivers": services.driver_tokens,
        "terminals": [
            {
                "party_id": terminal.party_id,
                "token": services.client_tokens[terminal.party_id],
                "pickups": [
                    {**p.as_json(), **({"gate_pass": passes[p.release_id]} if passes else {})}
                    for p in pickups
                    if p.terminal == terminal.party_id
                ],
            }
            for terminal in services.port.terminals
        ],
    }
    path.touch(mode=0o600)
    path.write_text(json.dumps(document))


async def run_locust(
    services: Services,
    plan: Path,
    *,
    lanes: int,
    lane_rate: float,
    seconds: float,
    scratch: Path,
    inspect_expected: bool,
) -> Path:
    """locust headless for `seconds`; returns the CSV prefix."""
    prefix = scratch / f"locust-{uuid.uuid4().hex[:6]}"
    command = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(LOCUSTFILE),
        "--headless",
        "--host",
        services.release_url,
        "--users",
        str(lanes),
        "--spawn-rate",
        str(lanes),
        "--run-time",
        f"{math.ceil(seconds)}s",
        "--stop-timeout",
        "10",
        "--reset-stats",
        "--only-summary",
        "--csv",
        str(prefix),
        "--loglevel",
        "WARNING",
        "--exit-code-on-error",
        "0",
        "--gate-plan",
        str(plan),
        "--lane-rate",
        f"{lane_rate:.6f}",
        *(["--inspect-expected"] if inspect_expected else []),
    ]
    output = output_of(prefix)
    with output.open("wb") as sink:
        process = await asyncio.create_subprocess_exec(
            *command, stdout=sink, stderr=subprocess.STDOUT
        )
        try:
            code = await asyncio.wait_for(process.wait(), seconds + LOCUST_GRACE_SECONDS)
        except TimeoutError:
            process.kill()
            await process.wait()
            raise RuntimeError("locust did not stop in time") from None
    if code != 0:
        raise RuntimeError(f"locust exited with {code}:\n{tail(output)}")
    return prefix


def output_of(prefix: Path) -> Path:
    """Where locust's own output goes."""
    return prefix.with_suffix(".log")


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return math.nan


def read_figures(prefix: Path) -> dict[str, Figures]:
    """Per request name, from locust's `_stats.csv`."""
    figures = {}
    with Path(f"{prefix}_stats.csv").open(newline="") as stats:
        for row in csv.DictReader(stats):
            figures[row["Name"]] = Figures(
                count=int(row["Request Count"]),
                failures=int(row["Failure Count"]),
                per_second=_number(row["Requests/s"]),
                p50=_number(row["50%"]),
                p95=_number(row["95%"]),
                p99=_number(row["99%"]),
                max=_number(row["Max Response Time"]),
            )
    return figures


_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_ORIGIN = re.compile(r"https?://127\.0\.0\.1:[0-9]+")


def _plain(error: str) -> str:
    """A failure as one kind: without locust's exception wrapper, ids and ports."""
    # locust stores a failure as the repr of its exception: CatchResponseError('409 code').
    for wrapper in ("CatchResponseError(", "HTTPError("):
        if error.startswith(wrapper) and error.endswith(")"):
            error = error[len(wrapper) : -1].strip("'\"")
            break
    return _ORIGIN.sub("", _ID.sub("{id}", error))


def read_failures(prefix: Path) -> Counter[str]:
    """'request: error' -> occurrences, and the load generator's own exceptions."""
    failures: Counter[str] = Counter()
    with Path(f"{prefix}_failures.csv").open(newline="") as rows:
        for row in csv.DictReader(rows):
            failures[f"{row['Name']}: {_plain(row['Error'])}"] += int(row["Occurrences"])
    exceptions = Path(f"{prefix}_exceptions.csv")
    if exceptions.exists():
        with exceptions.open(newline="") as rows:
            for row in csv.DictReader(rows):
                failures[f"locust exception: {row['Message']}"] += int(row["Count"])
    return failures


async def run_step(
    stack: Stack,
    services: Services,
    rate: float,
    args: argparse.Namespace,
    *,
    rng: random.Random,
    containers: Iterator[str],
    settings: ReleaseSettings,
    scratch: Path,
    subscribers: bench_webhooks.Subscribers | None = None,
) -> Step:
    """Prepare the releases of one step, offer `rate` pickups per second, read the figures
    (and, with `subscribers`, what they had been sent by the end of the step)."""
    terminals = len(services.port.terminals)
    lanes = lanes_for(rate, args.lane_rate, terminals)
    # Enough for the offered rate over the run, with room for lanes that run a little fast.
    count = math.ceil(rate * (args.seconds + 2) * 1.15 / terminals) * terminals + 2 * lanes
    started = time.monotonic()
    pickups = await prepare_pickups(
        stack, services.port, count, rng=rng, containers=containers, settings=settings
    )
    await services.renew_tokens()
    passes = None
    if args.prefetch_gate_passes:
        # Fetched just before the step (each lives 120 s): the drivers' phones do this at
        # their own pace, on the identity service's machines, not the gate's.
        async with httpx.AsyncClient(base_url=services.identity_url, timeout=30) as client:
            passes = await gate_setup.gate_passes(client, pickups, services.driver_tokens)
    step = Step(rate=rate, lanes=lanes, prepared=count, prepare_seconds=time.monotonic() - started)
    plan = scratch / "plan.json"
    write_plan(plan, services, pickups, passes)
    log(
        f"{stack.name}{f' {services.code}' if services.code else ''}: {rate:g}/s with {lanes} "
        f"lanes for {args.seconds:g} s ({count} releases prepared in "
        f"{step.prepare_seconds:.0f} s)"
    )
    made_before = await made_so_far(settings)
    events_before = await bench_webhooks.outbox_events(settings) if subscribers else 0
    own_before = own_cpu_seconds()
    wall_clock = time.time()
    before = {
        "release": services.release_cpu_seconds(),
        "identity": cpu_seconds(services.identity.pid),
        "locust": children_cpu_seconds(),
        "machine": machine_busy_seconds(),
    }
    if services.dispatcher is not None:
        before["webhooks"] = cpu_seconds(services.dispatcher.pid)
    if services.proxy is not None:
        before["proxy"] = cpu_seconds(services.proxy.pid)
    if services.idle_release is not None:
        before["idle release"] = cpu_seconds(services.idle_release.pid)
    wall = time.monotonic()
    watching = (
        asyncio.create_task(
            alert_watch.watch(
                services.release_url,
                services.security_token,
                services.alert_probers(),
                seconds=args.seconds,
            )
        )
        if args.watch_alerts
        else None
    )
    try:
        prefix = await run_locust(
            services,
            plan,
            lanes=lanes,
            lane_rate=rate / lanes,
            seconds=args.seconds,
            scratch=scratch,
            inspect_expected=args.inspect_probability > 0,
        )
    finally:
        plan.unlink(missing_ok=True)
        if watching is not None:
            step.alerts = await watching
            services.probes_made += step.alerts.probes
    wall = time.monotonic() - wall
    ended = time.time()
    step.cpu = {
        "release": (services.release_cpu_seconds() - before["release"]) / wall,
        "identity": (cpu_seconds(services.identity.pid) - before["identity"]) / wall,
        "locust": (children_cpu_seconds() - before["locust"]) / wall,
        "machine": (machine_busy_seconds() - before["machine"]) / wall,
    }
    if services.dispatcher is not None:
        step.cpu["webhooks"] = (cpu_seconds(services.dispatcher.pid) - before["webhooks"]) / wall
    if services.proxy is not None:
        step.through_proxy = True
        step.cpu["proxy"] = (cpu_seconds(services.proxy.pid) - before["proxy"]) / wall
    if services.idle_release is not None:
        idle = cpu_seconds(services.idle_release.pid) - before["idle release"]
        step.cpu["idle release"] = idle / wall
    step.reference = services.reference
    step.seconds = wall
    # Read after the CPU figures, so that the reading is not charged to the step.
    if subscribers is not None:
        step.webhooks = bench_webhooks.WebhookFigures(
            subscriptions=len(subscribers.made),
            silent_subscriptions=len(subscribers.silent_ids),
            started=wall_clock,
            ended=ended,
            receivers_cpu=(own_cpu_seconds() - own_before) / wall,
        )
        step.webhooks.end_of_step = await subscribers.snapshot()
        step.webhooks.events = await bench_webhooks.outbox_events(settings) - events_before
    step.made = await made_so_far(settings)
    step.made.subtract(made_before)
    figures = read_figures(prefix)
    if DECISION not in figures:
        raise RuntimeError(f"locust reported no {DECISION!r} requests:\n{tail(output_of(prefix))}")
    step.decisions = figures.get(DECISION, Figures())
    step.completions = figures.get(COMPLETE, Figures())
    step.gate_passes = figures.get(GATE_PASS, Figures())
    step.failures = read_failures(prefix)
    return step


async def subscribed_step(
    stack: Stack,
    services: Services,
    rate: float,
    args: argparse.Namespace,
    subscribers: bench_webhooks.Subscribers,
    *,
    rng: random.Random,
    containers: Iterator[str],
    scratch: Path,
) -> Step:
    """The step again with the subscribers: subscribe, run, let the answering subscribers'
    deliveries settle (bounded), read what they got, unsubscribe."""
    try:
        await subscribers.subscribe()
        step = await run_step(
            stack,
            services,
            rate,
            args,
            rng=rng,
            containers=containers,
            settings=subscribers.settings,
            scratch=scratch,
            subscribers=subscribers,
        )
        assert step.webhooks is not None
        settling = time.monotonic()
        step.webhooks.settled = await subscribers.settle(args.settle_seconds)
        step.webhooks.settle_seconds = time.monotonic() - settling
        subscribers.figures(step.webhooks)
        return step
    finally:
        await subscribers.unsubscribe()


# --- through the proxy ------------------------------------------------------------------------


async def through_proxy(
    services: Services,
    settings: ReleaseSettings,
    stack: Stack,
    scratch: Path,
    servers: list[subprocess.Popen[bytes]],
) -> Services:
    """As many release processes as the direct run has workers, each on a port of its own,
    and nginx in front of them; the Services the proxied steps use (started ones are added to
    `servers`, to be stopped at the end)."""
    ports = [free_port() for _ in range(stack.workers)]
    replicas = []
    for n, port in enumerate(ports):
        one_worker = settings.model_copy(update={"port": port, "workers": 1})
        replicas.append(
            start_server(
                "release",
                settings_environment("KETENPAS_RELEASE_", one_worker),
                scratch / f"{stack.name}-release-replica{n}.log",
            )
        )
        servers.append(replicas[-1])
    for port, process in zip(ports, replicas, strict=True):
        await wait_until_ready(f"http://127.0.0.1:{port}", process)
    proxy = reverse_proxy.start_proxy(scratch / "nginx", {"release": ports})
    assert proxy.process is not None
    servers.append(proxy.process)  # SIGINT: nginx's fast shutdown
    log(f"{stack.name}: nginx at {proxy.url('release')} in front of {len(ports)} release processes")
    return dataclasses.replace(
        services,
        release_url=proxy.url("release"),
        release=replicas[0],
        more_releases=replicas[1:],
        proxy=proxy.process,
    )


# --- beside a reference revision ----------------------------------------------------------------


async def start_reference(
    services: Services,
    settings: ReleaseSettings,
    stack: Stack,
    scratch: Path,
    servers: list[subprocess.Popen[bytes]],
    revision: reference_code.Revision,
) -> Services:
    """The reference revision's release service beside today's, with the same settings but
    its port, from the revision's tree in the run's folder; the Services its steps use
    (today's `services` gets it as its idle neighbour; the process is added to `servers`)."""
    tree = reference_code.materialise(revision, scratch / "reference")
    port = free_port()
    env = reference_code.code_environment(
        tree,
        settings_environment("KETENPAS_RELEASE_", settings.model_copy(update={"port": port})),
    )
    files = reference_code.check_imports_from(tree, env)
    log(
        f"{stack.name}: the reference {revision.short} imports "
        + ", ".join(f"{name} from {file}" for name, file in files.items())
    )
    process = start_server(
        "release", env, scratch / f"{stack.name}-release-reference.log", cwd=tree
    )
    servers.append(process)
    url = f"http://127.0.0.1:{port}"
    await wait_until_ready(url, process)
    log(f"{stack.name}: the reference's release service at {url} (pid {process.pid})")
    services.idle_release = process
    services.code = "now"
    return dataclasses.replace(
        services,
        release_url=url,
        release=process,
        idle_release=services.release,
        reference=True,
        code=revision.label,
    )


# --- one backend ------------------------------------------------------------------------------


async def run_backend(stack: Stack, args: argparse.Namespace, scratch: Path) -> BackendResult:
    """Prepare, serve, step through the rates, stop and clean up for one backend."""
    result = BackendResult(stack)
    identity_settings = IdentitySettings(**storage(stack.identity), port=free_port())
    release_settings = ReleaseSettings(
        **storage(stack.release),
        port=free_port(),
        identity_url=identity_settings.public_url,
        inspect_probability=args.inspect_probability,
        workers=stack.workers,
        # Local receivers are on loopback: allowed in development only (the default here).
        webhook_allow_private=args.subscribers > 0,
        # --webhooks-apart: the release service sends nothing itself (None: its default).
        run_webhooks=False if args.webhooks_apart else None,
    )
    logs = {name: scratch / f"{stack.name}-{name}.log" for name in ("identity", "release")}
    servers: list[subprocess.Popen[bytes]] = []
    rng = random.Random(args.seed)
    containers = gate_setup.container_numbers()
    try:
        log(f"{stack.name}: migrating and seeding the port")
        await upgrade(identity_settings, IDENTITY_MIGRATIONS)
        await upgrade(release_settings, RELEASE_MIGRATIONS)
        if args.watch_alerts:
            await alert_watch.one_lookup_a_minute(release_settings)
        port = await gate_setup.seed_port(
            identity_settings,
            gate_setup.PortShape(
                terminals=args.terminals, drivers_per_carrier=args.drivers_per_carrier
            ),
        )
        told = bench_webhooks.told_parties(port)
        admins = (
            await bench_webhooks.seed_admins(identity_settings, [party for party, _ in told])
            if args.subscribers
            else {}
        )
        identity = start_server(
            "identity",
            settings_environment("KETENPAS_IDENTITY_", identity_settings),
            logs["identity"],
        )
        servers.append(identity)
        await wait_until_ready(identity_settings.public_url, identity)
        release = start_server(
            "release",
            settings_environment("KETENPAS_RELEASE_", release_settings),
            logs["release"],
            profile=(
                args.profile.with_suffix(f".{stack.name}-w{stack.workers}.prof")
                if args.profile
                else None
            ),
        )
        servers.append(release)
        await wait_until_ready(release_settings.public_url, release)
        dispatcher = None
        if args.webhooks_apart:
            # `ketenpas webhooks run` (services/release/webhooks/cli.py), with the release
            # service's settings, beside a release service that runs no dispatcher.
            dispatcher = start_dispatcher(
                settings_environment("KETENPAS_RELEASE_", release_settings),
                scratch / f"{stack.name}-webhooks.log",
                niceness=args.dispatcher_nice,
            )
            servers.append(dispatcher)
            await alive_after(dispatcher, scratch / f"{stack.name}-webhooks.log", seconds=5.0)
        services = Services(
            identity_url=identity_settings.public_url,
            release_url=release_settings.public_url,
            port=port,
            issuer=identity_settings.issuer,
            identity=identity,
            release=release,
            dispatcher=dispatcher,
        )
        await services.renew_tokens()
        log(f"{stack.name}: {args.api_chains} chains through the API, then the warm-up")
        started = time.monotonic()
        through_api = await api_chains(services, args.api_chains, rng=rng, containers=containers)
        result.api_seconds = time.monotonic() - started
        result.api_chains = len(through_api)
        inspect_expected = args.inspect_probability > 0
        written = await warm_up_pickups(
            stack, port, rng=rng, containers=containers, settings=release_settings
        )
        await warm_up(services, [*through_api, *written], inspect_expected=inspect_expected)
        result.warm_up_pickups = len(through_api) + len(written)
        proxied = None
        if args.through_proxy:
            proxied = await through_proxy(services, release_settings, stack, scratch, servers)
            written = await warm_up_pickups(
                stack, port, rng=rng, containers=containers, settings=release_settings
            )
            await warm_up(proxied, written, inspect_expected=inspect_expected)
        reference = None
        if args.reference is not None:
            logs["reference release"] = scratch / f"{stack.name}-release-reference.log"
            reference = await start_reference(
                services, release_settings, stack, scratch, servers, args.reference
            )
            written = await warm_up_pickups(
                stack, port, rng=rng, containers=containers, settings=release_settings
            )
            await warm_up(reference, written, inspect_expected=inspect_expected)

        async def step_on(target: Services, rate: float) -> Step:
            return await run_step(
                stack,
                target,
                rate,
                args,
                rng=rng,
                containers=containers,
                settings=release_settings,
                scratch=scratch,
            )

        saturated = False
        stepped = 0  # rate steps run so far
        for rate in args.rates:
            if saturated and rate != TARGET_RATE:
                continue
            # With --reference: both codes, the reference first in the first step and then in
            # every other one (the docstring says why).
            order = [services]
            if reference is not None:
                reference_first = stepped % 2 == 0
                order = [reference, services] if reference_first else [services, reference]
            stepped += 1
            by_code: dict[bool, Step] = {}  # reference or not -> its step
            for measured in order:
                by_code[measured.reference] = await step_on(measured, rate)
                result.steps.append(by_code[measured.reference])
            step = by_code[False]
            if args.subscribers:
                result.steps.append(
                    await subscribed_step(
                        stack,
                        services,
                        rate,
                        args,
                        bench_webhooks.Subscribers(
                            release_url=services.release_url,
                            identity_url=services.identity_url,
                            settings=release_settings,
                            admins=admins,
                            planned=bench_webhooks.spread(
                                told, args.subscribers, args.silent_subscribers
                            ),
                        ),
                        rng=rng,
                        containers=containers,
                        scratch=scratch,
                    )
                )
            if proxied is not None:
                result.steps.append(await step_on(proxied, rate))
            if (
                not saturated
                and not args.all_steps
                and not step.sustainable
                and step.achieved_share < SATURATED_SHARE
            ):
                saturated = True
                log(f"{stack.name}: saturated at {rate:g}/s; higher steps skipped but the target")
    except Exception as exc:
        result.error = f"{type(exc).__name__}: {exc}"
        log(traceback.format_exc())
        for name, path in logs.items():
            log(f"--- {stack.name} {name} service output:\n{tail(path)}")
    finally:
        for server in reversed(servers):
            stop_service(server)
        for backend in (stack.identity, stack.release):
            await cleanup(backend)
    return result


# --- the report -------------------------------------------------------------------------------


def _ms(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.0f}"


def _cpu_ms(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.2f}"


def report(results: Sequence[BackendResult], args: argparse.Namespace, shape: str) -> None:
    """The figures: one line per backend and rate step, then the verdicts."""
    print(
        f"gate under load over HTTP: {shape}; {args.seconds:g} s per step; "
        f"{platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} CPUs; "
        "locust, identity, release, database and cache all on this machine; "
        "release service: 'procs' processes; gate passes "
        + ("fetched before each step" if args.prefetch_gate_passes else "fetched in each pickup")
    )
    print(
        "inspection draws: every decision that would release draws (VRF prove over the log's "
        f"checkpoint, an audit event, a row); inspect probability {args.inspect_probability:g}"
        + (
            " (every draw says release)"
            if args.inspect_probability == 0
            else " ('inspect' for a random inspection is an expected answer: no gate-out)"
        )
    )
    if args.subscribers:
        print(
            f"webhooks (issue 15): each step first with no subscription (the reference), then "
            f"with {args.subscribers} subscriptions to gate.decided (terminals) and "
            f"gate.completed (terminals, lines, forwarders, carriers), "
            f"{args.silent_subscribers} of them to receivers that never answer; made through "
            "POST /v1/subscriptions by each party's admin; receivers on 127.0.0.1 in the "
            "benchmark's process; release service in development mode with "
            "KETENPAS_RELEASE_WEBHOOK_ALLOW_PRIVATE=true and the demo webhook key; dispatcher "
            + (
                "apart: KETENPAS_RELEASE_RUN_WEBHOOKS=false and `ketenpas webhooks run` beside it"
                + (f" under `nice -n {args.dispatcher_nice}`" if args.dispatcher_nice else "")
                if args.webhooks_apart
                else "in the release service's processes (its default)"
            )
        )
    revision = args.reference
    if revision is not None:
        print(
            f"reference (issue 16): {revision.short} {revision.subject!r} ({revision.given}), "
            "its release service run from `git archive` of it with the same settings, beside "
            f"today's code ('now': {reference_code.working_tree()}); identity service, "
            "migrations and each step's releases are today's code; each step runs against "
            "both, each with fresh releases, the reference first in the first step and every "
            "other one; the other service idle meanwhile"
        )
    print(
        f"target (issue): on PostgreSQL + Redis, p99 < {P99_LIMIT_MS:g} ms at "
        f"{TARGET_RATE:g} decisions/s with zero failures; report the maximum sustainable rate"
    )
    print(
        f"sustainable step: p99 of decisions and of gate-outs < {P99_LIMIT_MS:g} ms, no failure, "
        f"achieved >= {ACHIEVED_SHARE:.0%} of the offered rate. Latencies in ms; "
        "'pass' is the identity service's gate pass, apart from the gate's figures; "
        f"CPU in % of one core: release, identity, locust, and 'all': the whole machine "
        f"({os.cpu_count()} CPUs), database, cache and anyone else's work included"
    )
    width = 10 if revision is None else max(10, len(revision.label) + 2)
    header = (
        f"{'backend' if revision is None else 'code':<{width}}{'procs':>6}{'offered':>8}"
        f"{'lanes':>6}{'dec/s':>7}{'out/s':>7}"
        f"{'dec p50':>8}{'p95':>5}{'p99':>5}{'max':>6}"
        f"{'out p50':>8}{'p95':>5}{'p99':>5}{'max':>6}"
        f"{'pass p99':>9}{'fail':>6}{'cpu rel':>8}{'id':>5}{'locust':>7}{'all':>5}  ok"
    )
    for result in results:
        stack = result.stack
        print()
        print(f"{stack.name}: {stack.label}, release service in {stack.workers} process(es)")
        if result.api_chains:
            print(
                f"  preparation: {result.api_chains} chains through the release API in "
                f"{result.api_seconds:.1f} s "
                f"({result.api_chains / result.api_seconds:.1f} chains/s, about 10 requests each); "
                f"{result.warm_up_pickups} warm-up pickups released; "
                "each step's releases written directly"
            )
        if result.error:
            print(f"  FAILED: {result.error}")
        if not result.steps:
            continue
        print(header)
        for step in result.steps:
            d, c = step.decisions, step.completions
            name = "via nginx" if step.through_proxy else stack.name
            if revision is not None:
                name = revision.label if step.reference else "now"
            print(
                f"{name:<{width}}{stack.workers:>6}{step.rate:>8g}{step.lanes:>6}{d.per_second:>7.1f}"
                f"{c.per_second:>7.1f}{_ms(d.p50):>8}{_ms(d.p95):>5}{_ms(d.p99):>5}{_ms(d.max):>6}"
                f"{_ms(c.p50):>8}{_ms(c.p95):>5}{_ms(c.p99):>5}{_ms(c.max):>6}"
                f"{_ms(step.gate_passes.p99):>9}{step.failed:>6}"
                f"{step.cpu.get('release', 0) * 100:>8.0f}{step.cpu.get('identity', 0) * 100:>5.0f}"
                f"{step.cpu.get('locust', 0) * 100:>7.0f}{step.cpu.get('machine', 0) * 100:>5.0f}"
                f"  {'yes' if step.sustainable else 'no'}"
            )
            made = step.made
            print(
                f"    made in the step: {made['draws']} draws; decisions: "
                f"{made['release']} release, {made['inspect']} inspect, {made['deny']} deny"
                + (
                    ""
                    if made["draws"] == made["release"] + made["inspect"]
                    else " (draws differ from the decisions that would release)"
                )
                + f"; release CPU {_cpu_ms(step.release_cpu_ms_per_decision)} ms a decision"
                + (
                    f"; the idle release service {step.cpu['idle release'] * 100:.1f}% of a core"
                    if "idle release" in step.cpu
                    else ""
                )
            )
            if step.through_proxy:
                print(
                    f"    through nginx to {stack.workers} release process(es) of one worker "
                    f"each; nginx's CPU {step.cpu.get('proxy', 0) * 100:.1f}% of a core"
                )
            if args.subscribers:
                if step.webhooks is None:
                    print("    webhooks: no subscription (the reference)")
                else:
                    for line in bench_webhooks.report_lines(step.webhooks):
                        print(f"    {line}")
            if step.alerts is not None:
                a = step.alerts
                print(
                    f"    alert latency (refused look-up -> port security's stream): "
                    f"p50 {_ms(a.quantile(0.5))} ms, p95 {_ms(a.quantile(0.95))} ms, max "
                    f"{_ms(a.quantile(1.0))} ms over {len(a.seconds)} alerts; {a.missed} missed"
                )
            for failure, count in step.failures.most_common(6):
                print(f"    {count} x {failure}")
            if len(step.failures) > 6:
                print(f"    ... and {len(step.failures) - 6} other kinds")
        if args.subscribers:
            compare_subscribed(result.steps)
        if args.through_proxy:
            compare_proxied(result.steps, stack.workers)
        if revision is not None:
            compare_reference(result.steps, revision.label)
        best = result.max_sustainable
        print(
            f"  max sustainable rate{' (now)' if revision else ''}: "
            f"{f'{best:g} decisions/s' if best else 'none of the steps'} (steps: "
            + ", ".join(
                f"{s.rate:g}" for s in result.steps if not s.through_proxy and not s.reference
            )
            + ")"
        )
        if revision is not None:
            best = result.max_sustainable_of(through_proxy=False, reference=True)
            print(
                f"  max sustainable rate ({revision.label}): "
                + (f"{best:g} decisions/s" if best else "none of the steps")
            )
        if args.through_proxy:
            best = result.max_sustainable_of(through_proxy=True)
            print(
                "  max sustainable rate through nginx: "
                + (f"{best:g} decisions/s" if best else "none of the steps")
            )
        at_target = next(
            (
                s
                for s in result.steps
                if s.rate == TARGET_RATE and not s.through_proxy and not s.reference
            ),
            None,
        )
        if at_target is not None:
            verdict = "met" if at_target.sustainable else "MISSED"
            print(
                f"  at {TARGET_RATE:g}/s: decisions p99 {_ms(at_target.decisions.p99)} ms, "
                f"gate-outs p99 {_ms(at_target.completions.p99)} ms, {at_target.failed} failures, "
                f"{at_target.decisions.per_second:.1f} decisions/s achieved: target {verdict}"
                + ("" if stack.name == "postgres" else " (the issue's target is for PostgreSQL)")
            )


def compare_proxied(steps: Sequence[Step], workers: int) -> None:
    """Each step through nginx beside the direct step of the same rate."""
    direct = {s.rate: s for s in steps if not s.through_proxy and s.webhooks is None}
    for proxied in steps:
        reference = direct.get(proxied.rate)
        if not proxied.through_proxy or reference is None:
            continue
        print(
            f"  at {proxied.rate:g}/s, direct ({workers} worker(s) on one socket) -> through "
            f"nginx ({workers} process(es)): decisions/s {reference.decisions.per_second:.1f} -> "
            f"{proxied.decisions.per_second:.1f}; decision p50 {_ms(reference.decisions.p50)} -> "
            f"{_ms(proxied.decisions.p50)}, p99 {_ms(reference.decisions.p99)} -> "
            f"{_ms(proxied.decisions.p99)} ms; gate-out p99 {_ms(reference.completions.p99)} -> "
            f"{_ms(proxied.completions.p99)} ms; failures {reference.failed} -> {proxied.failed}; "
            f"release CPU {reference.cpu.get('release', 0) * 100:.0f}% -> "
            f"{proxied.cpu.get('release', 0) * 100:.0f}% (+ nginx "
            f"{proxied.cpu.get('proxy', 0) * 100:.1f}%); sustainable "
            f"{'yes' if reference.sustainable else 'no'} -> "
            f"{'yes' if proxied.sustainable else 'no'}"
        )


def compare_reference(steps: Sequence[Step], label: str) -> None:
    """Each step of today's code beside the reference's step of the same rate run next to it."""
    n = 0
    while n + 1 < len(steps):
        first, second = steps[n], steps[n + 1]
        if first.rate != second.rate or first.reference == second.reference:
            n += 1
            continue
        ref, now = (first, second) if first.reference else (second, first)
        # Each service's CPU when idle, measured while the other one was loaded.
        ref_idle, now_idle = now.cpu.get("idle release", 0.0), ref.cpu.get("idle release", 0.0)
        print(
            f"  at {now.rate:g}/s, {label} -> now ({label if first.reference else 'now'} ran "
            f"first): decisions/s {ref.decisions.per_second:.1f} -> "
            f"{now.decisions.per_second:.1f}; decision p50 {_ms(ref.decisions.p50)} -> "
            f"{_ms(now.decisions.p50)}, p99 {_ms(ref.decisions.p99)} -> "
            f"{_ms(now.decisions.p99)} ms; gate-out p99 {_ms(ref.completions.p99)} -> "
            f"{_ms(now.completions.p99)} ms; failures {ref.failed} -> {now.failed}; "
            f"release CPU a decision {_cpu_ms(ref.release_cpu_ms_per_decision)} -> "
            f"{_cpu_ms(now.release_cpu_ms_per_decision)} ms ({ref.decisions_made} and "
            f"{now.decisions_made} decisions; {ref.cpu.get('release', 0) * 100:.0f}% -> "
            f"{now.cpu.get('release', 0) * 100:.0f}% of a core), above each one's idle CPU "
            f"({ref_idle * 100:.0f}% and {now_idle * 100:.0f}%, measured in the other's step) "
            f"{_cpu_ms(ref.release_cpu_ms_per_decision_above(ref_idle))} -> "
            f"{_cpu_ms(now.release_cpu_ms_per_decision_above(now_idle))} ms; sustainable "
            f"{'yes' if ref.sustainable else 'no'} -> {'yes' if now.sustainable else 'no'}"
        )
        n += 2


def compare_subscribed(steps: Sequence[Step]) -> None:
    """Each subscribed step beside the reference step before it."""
    for reference, subscribed in itertools.pairwise(steps):
        figures = subscribed.webhooks
        if reference.webhooks is not None or figures is None:
            continue
        print(
            f"  at {subscribed.rate:g}/s, none -> {figures.subscriptions} subscribers "
            f"({figures.silent_subscriptions} silent): decisions/s "
            f"{reference.decisions.per_second:.1f} -> {subscribed.decisions.per_second:.1f}; "
            f"decision p50 {_ms(reference.decisions.p50)} -> {_ms(subscribed.decisions.p50)}, "
            f"p99 {_ms(reference.decisions.p99)} -> {_ms(subscribed.decisions.p99)} ms; "
            f"gate-out p99 {_ms(reference.completions.p99)} -> "
            f"{_ms(subscribed.completions.p99)} ms; failures {reference.failed} -> "
            f"{subscribed.failed}; release CPU {reference.cpu.get('release', 0) * 100:.0f}% -> "
            f"{subscribed.cpu.get('release', 0) * 100:.0f}%"
            + (
                f"; dispatcher process CPU {reference.cpu['webhooks'] * 100:.0f}% -> "
                f"{subscribed.cpu['webhooks'] * 100:.0f}%"
                if "webhooks" in subscribed.cpu and "webhooks" in reference.cpu
                else ""
            )
        )


# --- main -------------------------------------------------------------------------------------


async def main_async(args: argparse.Namespace) -> list[BackendResult]:
    run_id = uuid.uuid4().hex[:8]
    results = []
    for name in args.backends:
        if name == "postgres":
            problem = await postgres_and_redis_answer()
            if problem is not None:
                log(f"postgres skipped: PostgreSQL or Redis does not answer: {problem}")
                continue
        for workers in args.release_workers:
            scratch = Path(tempfile.mkdtemp(prefix=f"kp-bench-gate-{name}-"))
            try:
                stack = stack_for(name, run_id, scratch, workers)
                results.append(await run_backend(stack, args, scratch))
            finally:
                shutil.rmtree(scratch, ignore_errors=True)
    return results


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="run time of each rate step")
    parser.add_argument(
        "--rates",
        default="10,20,30,50,75,100,150,200",
        help="offered pickups per second, in order",
    )
    parser.add_argument("--backends", default="embedded,postgres", help="embedded and/or postgres")
    parser.add_argument("--terminals", type=int, default=4, help="terminals, each with lanes")
    parser.add_argument("--drivers-per-carrier", type=int, default=6, help="six carriers")
    parser.add_argument("--lane-rate", type=float, default=2.0, help="pickups per lane per second")
    parser.add_argument("--api-chains", type=int, default=24, help="chains made through the API")
    parser.add_argument("--seed", type=int, default=6346, help="seed of the chains' shapes")
    parser.add_argument("--all-steps", action="store_true", help="do not stop when saturated")
    parser.add_argument(
        "--release-workers",
        default="1,2",
        help="release service processes (uvicorn workers), each count run in turn",
    )
    parser.add_argument(
        "--prefetch-gate-passes",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="fetch the step's gate passes before it starts (off: each lane fetches in line)",
    )
    parser.add_argument(
        "--inspect-probability",
        type=float,
        default=0.0,
        help="the release service's inspect probability (0: every draw says release)",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        help="run the release service under cProfile (statistics: PROFILE.<backend>-w<n>.prof)",
    )
    parser.add_argument(
        "--watch-alerts",
        action="store_true",
        help="also time refused look-ups to their alert on port security's stream "
        "(loadtests/alert_watch.py)",
    )
    parser.add_argument(
        "--subscribers",
        type=int,
        default=0,
        help="run each step again with this many webhook subscriptions to gate events "
        "(loadtests/bench_webhooks.py); 0: no webhook steps",
    )
    parser.add_argument(
        "--silent-subscribers",
        type=int,
        default=0,
        help="of the subscriptions, how many point at receivers that never answer",
    )
    parser.add_argument(
        "--settle-seconds",
        type=float,
        default=30.0,
        help="after a subscribed step, wait at most this long for the answering "
        "subscribers' deliveries",
    )
    parser.add_argument(
        "--webhooks-apart",
        action="store_true",
        help="run the webhook dispatcher in a process of its own (`ketenpas webhooks run`), "
        "the release service with RUN_WEBHOOKS=false",
    )
    parser.add_argument(
        "--dispatcher-nice",
        type=int,
        default=0,
        choices=range(20),
        metavar="0-19",
        help="with --webhooks-apart: start the dispatcher under `nice -n N`, so that on this "
        "one machine it takes the CPU the gate leaves, as on CPU of its own in a deployment",
    )
    parser.add_argument(
        "--through-proxy",
        action="store_true",
        help="run each step again through nginx in front of as many release processes as "
        "workers (loadtests/reverse_proxy.py), printed beside the direct step",
    )
    parser.add_argument(
        "--reference",
        metavar="REV",
        help="run each step also against the release service of this git revision (from "
        "`git archive REV`), printed beside today's code (loadtests/reference_code.py)",
    )
    args = parser.parse_args(argv)
    try:
        args.rates = [float(rate) for rate in args.rates.split(",") if rate.strip()]
    except ValueError:
        parser.error("--rates is a comma-separated list of numbers")
    args.backends = [name.strip() for name in args.backends.split(",") if name.strip()]
    try:
        args.release_workers = [int(n) for n in args.release_workers.split(",") if n.strip()]
    except ValueError:
        parser.error("--release-workers is a comma-separated list of process counts")
    if not args.release_workers or not all(1 <= n <= 8 for n in args.release_workers):
        parser.error("--release-workers takes counts from 1 to 8")
    if not args.rates or any(rate <= 0 or rate > 2000 for rate in args.rates):
        parser.error("--rates must be positive and at most 2000")
    if set(args.backends) - {"embedded", "postgres"} or not args.backends:
        parser.error("--backends takes embedded and/or postgres")
    if not 1 <= args.seconds <= MAX_RUN_SECONDS:
        parser.error(f"--seconds must lie in [1, {MAX_RUN_SECONDS:g}]")
    if min(args.terminals, args.drivers_per_carrier) < 1 or args.lane_rate <= 0:
        parser.error("--terminals, --drivers-per-carrier and --lane-rate must be positive")
    if not 0.0 <= args.inspect_probability <= 0.5:
        parser.error("--inspect-probability lies in [0, 0.5]")
    if not 0 <= args.subscribers <= 200 or not 0 <= args.silent_subscribers <= args.subscribers:
        parser.error("--subscribers lies in [0, 200], --silent-subscribers in [0, --subscribers]")
    if not 0 <= args.settle_seconds <= MAX_RUN_SECONDS:
        parser.error(f"--settle-seconds must lie in [0, {MAX_RUN_SECONDS:g}]")
    if args.api_chains < 0:
        parser.error("--api-chains must not be negative")
    if args.reference is not None:
        apart = [
            option
            for option, given in (
                ("--through-proxy", args.through_proxy),
                ("--subscribers", args.subscribers > 0),
                ("--webhooks-apart", args.webhooks_apart),
            )
            if given
        ]
        if apart:
            parser.error(
                f"--reference runs the plain direct steps only: not with {', '.join(apart)}"
            )
        try:
            args.reference = reference_code.resolve(args.reference)
        except ValueError as exc:
            parser.error(f"--reference: {exc}")
    if args.through_proxy and reverse_proxy.nginx_binary() is None:
        parser.error("--through-proxy needs nginx (Debian: apt-get install nginx)")
    return args


def main() -> int:
    """Parse arguments, run each backend, print the figures."""
    args = parse_args()
    results = asyncio.run(main_async(args))
    shape = (
        f"{args.terminals} terminals, 3 shipping lines, 6 forwarders, 6 carriers, "
        f"{6 * args.drivers_per_carrier} drivers; chains of 4 to 6 links"
    )
    report(results, args, shape)
    return 1 if any(result.error for result in results) else 0


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # stop servers on a TERM too
    sys.exit(main())
