"""Bytes per row of the growing tables on PostgreSQL, written through the real code paths,
with the CPU a pickup takes and Redis's bytes per key (the figures docs/scaling.md sizes a
port with).

Both services run in this process (their ASGI apps, the release service reaching the identity
service over an in-process transport), each on a schema of its own in the test database
(`kp_bench_<random>_sizing_identity` / `_release`, dropped at the end unless `--keep`). The
parties and drivers are seeded as the gate benchmark seeds them (`gate_setup.seed_port`);
then, for each of `--pickups` containers, through the HTTP APIs: the terminal's yard entry,
the release and its 4 to 6 links each accepted (`gate_setup.build_chain_via_api`), one read
of the release and one of its chain by the first receiver's client (access-log rows), a gate
pass from the identity service, the gate decision and the gate-out. A few webhook
subscriptions (the terminals: `gate.decided`, `gate.completed`; the carriers: the chain's
events and `gate.completed`) are made through the API first, so the outbox fans out into
deliveries. Every `--drain-every` pickups both audit sequencers integrate and sign what is
pending, as the running services do once a second, so partial tiles and checkpoints are
written as they are in service; at the end the fan-out runs and the access log is sealed.
Nothing is sent to a receiver: deliveries stay `pending` (a delivered row fills three more
timestamps and a status code, about 30 bytes).

Per table (the release service's growing tables, and the identity service's audit log and
spent assertions) it prints rows added, rows per pickup, and bytes per row including indexes
and TOAST, twice: as written (dead row versions of updated rows included, as a table between
vacuums holds them) and after `VACUUM FULL` (compact, over every row). What the tables held
before (the empty schema; for the identity service, the seeded port) is subtracted, so each
index's metapage and root do not count; the last partly filled 8 KiB page of each relation
still does (at most 8 KiB per relation and index; a few percent at the default 300 pickups
for the smallest tables). It also prints this process's CPU per pickup (both services and
their clients) and, right after the tokens and sign-ins, the identity service's Redis keys
by kind with `MEMORY USAGE`.

    .venv/bin/python -m loadtests.sizing [--pickups 300] [--drain-every 10] [--keep]

There is no library for this: PostgreSQL's and Redis's own size functions do the measuring.
"""

import argparse
import asyncio
import contextlib
import itertools
import random
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import redis.asyncio as redis
from fastapi import FastAPI

from loadtests import gate_setup
from loadtests.harness import PG_URL, REDIS_URL, log, postgres_and_redis_answer
from services.identity.settings import IdentitySettings
from services.registry import SERVICES
from services.release.access.seals import seal_all
from services.release.settings import ReleaseSettings
from services.release.webhooks.events import (
    GATE_DECIDED,
    GATE_OUT,
    LINK_ACCEPTED,
    NOMINATION_RECEIVED,
)
from services.release.webhooks.fanout import fan_out
from shared.db import transaction
from shared.migrate import upgrade
from shared.models import utcnow

# The tables that grow with the port's traffic (the rest hold parties' settings, keys and
# other rows counted in tens or hundreds).
RELEASE_GROWING = (
    "audit_events",
    "audit_tiles",
    "audit_checkpoints",
    "access_log",
    "releases",
    "yard_entries",
    "links",
    "gate_decisions",
    "gate_outs",
    "used_gate_passes",
    "inspection_draws",
    "webhook_outbox",
    "webhook_deliveries",
)
IDENTITY_GROWING = ("audit_events", "audit_tiles", "audit_checkpoints", "used_assertions")
SHAPE = gate_setup.PortShape(
    shipping_lines=2, forwarders=4, carriers=3, terminals=2, drivers_per_carrier=3
)
AT_ONCE = 4  # pickups in flight at once: enough to overlap, little CPU on a shared machine


@dataclass(frozen=True)
class Size:
    """One table's rows and bytes (heap, TOAST and indexes; partitions summed)."""

    rows: int
    table_bytes: int
    index_bytes: int

    @property
    def total(self) -> int:
        """Heap, TOAST and indexes together."""
        return self.table_bytes + self.index_bytes


async def leaves(connection: asyncpg.Connection, schema: str, table: str) -> list[str]:
    """The relations that hold a table's rows: its partitions, or the table itself."""
    qualified = f'"{schema}"."{table}"'
    found = await connection.fetch(
        "SELECT relid::regclass::text AS name FROM pg_partition_tree($1::regclass) WHERE isleaf",
        qualified,
    )
    return [row["name"] for row in found] or [qualified]


async def sizes(url: str, schema: str, tables: tuple[str, ...]) -> dict[str, Size]:
    """Rows and bytes of these tables (a partitioned one summed over its partitions)."""
    connection = await asyncpg.connect(url)
    try:
        found = {}
        for table in tables:
            table_bytes = index_bytes = 0
            for leaf in await leaves(connection, schema, table):
                row = await connection.fetchrow(
                    "SELECT pg_table_size($1::regclass) AS t, pg_indexes_size($1::regclass) AS i",
                    leaf,
                )
                table_bytes += int(row["t"])
                index_bytes += int(row["i"])
            rows = await connection.fetchval(f'SELECT count(*) FROM "{schema}"."{table}"')
            found[table] = Size(int(rows), table_bytes, index_bytes)
        return found
    finally:
        await connection.close()


async def vacuum_full(url: str, schema: str, tables: tuple[str, ...]) -> None:
    """Rewrite these tables compactly (dead row versions gone), partitions included."""
    connection = await asyncpg.connect(url)
    try:
        for table in tables:
            for leaf in await leaves(connection, schema, table):
                await connection.execute(f"VACUUM FULL {leaf}")
    finally:
        await connection.close()


async def redis_usage(prefix: str) -> dict[str, tuple[int, int]]:
    """Keys under the prefix by kind (the name up to its first variable part): how many, and
    the bytes Redis reports for them (`MEMORY USAGE`, the key's own overhead included)."""
    client = redis.from_url(REDIS_URL)
    try:
        kinds: dict[str, tuple[int, int]] = {}
        async for raw in client.scan_iter(match=f"{prefix}:*", count=500):
            key = raw.decode()
            words = itertools.takewhile(
                lambda part: part.isalpha(), key[len(prefix) + 1 :].split(":")
            )
            kind = ":".join(words) or "?"
            used = int(await client.memory_usage(key) or 0)
            count, total = kinds.get(kind, (0, 0))
            kinds[kind] = (count + 1, total + used)
        return kinds
    finally:
        await client.aclose()


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """Run the app's lifespan; a client that talks to it in-process."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client


def _ok(response: httpx.Response, status: int, what: str) -> dict[str, Any]:
    if response.status_code != status:
        raise RuntimeError(f"{what}: {response.status_code} {response.text}")
    body: dict[str, Any] = response.json()
    return body


async def subscribe(
    release: httpx.AsyncClient, port: gate_setup.Port, tokens: dict[str, str]
) -> int:
    """The terminals and carriers subscribe, as their systems would; how many subscriptions."""
    wanted = [(t, [GATE_DECIDED.type, GATE_OUT.type]) for t in port.terminals]
    chain = [NOMINATION_RECEIVED.type, LINK_ACCEPTED.type, GATE_OUT.type]
    wanted += [(carrier, chain) for carrier in port.carriers]
    for member, types in wanted:
        body = {"url": f"http://127.0.0.1:9/{member.party_id}", "event_types": types}
        headers = {"Authorization": f"Bearer {tokens[member.party_id]}"}
        _ok(await release.post("/v1/subscriptions", json=body, headers=headers), 201, "subscribe")
    return len(wanted)


async def pick_up(
    identity: httpx.AsyncClient,
    release: httpx.AsyncClient,
    plan: gate_setup.ChainPlan,
    *,
    tokens: dict[str, str],
    driver_tokens: dict[str, str],
) -> None:
    """One container from yard entry to gate-out through the APIs, with two reads on the way."""
    driver = str(plan.driver.person_id)
    await gate_setup.build_chain_via_api(
        release, plan, tokens=tokens, driver_token=driver_tokens[driver]
    )
    reader = {"Authorization": f"Bearer {tokens[plan.receivers[0].party_id]}"}
    base = f"/v1/releases/{plan.release_id}"
    _ok(await release.get(base, headers=reader), 200, "release read")
    _ok(await release.get(f"{base}/chain", headers=reader), 200, "chain read")
    answer = await identity.post(
        f"/v1/people/{driver}/gate-pass",
        headers={"Authorization": f"Bearer {driver_tokens[driver]}"},
    )
    gate_pass = _ok(answer, 200, "gate pass")["gate_pass"]
    terminal = {"Authorization": f"Bearer {tokens[plan.terminal.party_id]}"}
    body = {"container": plan.container, "gate_pass": gate_pass}
    decision = _ok(
        await release.post("/v1/gate/decisions", json=body, headers=terminal), 201, "gate"
    )
    if decision["decision"] == "inspect":
        return  # selected by its draw: the truck goes to inspection, no gate-out yet
    if decision["decision"] != "release":
        raise RuntimeError(f"gate decision: {decision}")
    complete = f"/v1/gate/decisions/{decision['decision_id']}/complete"
    _ok(await release.post(complete, headers=terminal), 200, "gate-out")


@dataclass
class Snapshots:
    """Each service's growing tables when migrated (empty), before the pickups, after them,
    and after VACUUM FULL."""

    empty: dict[str, dict[str, Size]]
    before: dict[str, dict[str, Size]]
    after: dict[str, dict[str, Size]]
    compact: dict[str, dict[str, Size]]


GROWING = {"release": RELEASE_GROWING, "identity": IDENTITY_GROWING}


async def load(
    identity_settings: IdentitySettings,
    release_settings: ReleaseSettings,
    schemas: dict[str, str],
    args: argparse.Namespace,
) -> tuple[int, dict[str, Size]]:
    """Seed the port and run the pickups: the subscriptions made, and the identity service's
    tables once the port was seeded and everyone signed in (before the pickups)."""
    port = await gate_setup.seed_port(identity_settings, SHAPE)
    identity_app = SERVICES["identity"].create_app(identity_settings)
    async with lifespan(identity_app) as identity:
        release_app = SERVICES["release"].create_app(
            release_settings, identity_transport=httpx.ASGITransport(app=identity_app)
        )
        async with lifespan(release_app) as release:
            sessions = release_app.state.sessions

            async def drain_both() -> None:
                await gate_setup.drain_log(release_settings, sessions)
                await gate_setup.drain_log(identity_settings, identity_app.state.sessions)

            await drain_both()  # the gate's draws need a signed checkpoint
            members = list(port.members.values())
            tokens = await gate_setup.client_tokens(identity, members, identity_settings.issuer)
            driver_tokens = await gate_setup.sign_in_all(identity, port.all_drivers)
            # Right after the tokens and sign-ins, while their replay guards and counters live.
            cached = await redis_usage(identity_settings.cache_prefix)
            subscriptions = await subscribe(release, port, tokens)
            await drain_both()
            identity_before = await sizes(PG_URL, schemas["identity"], IDENTITY_GROWING)
            rng = random.Random(20261206)
            containers = gate_setup.container_numbers("KPS")
            limit = asyncio.Semaphore(AT_ONCE)
            done = 0

            async def one(n: int) -> None:
                nonlocal done
                terminal = port.terminals[n % len(port.terminals)]
                plan = gate_setup.plan_chain(
                    port, rng, terminal=terminal, container=next(containers)
                )
                async with limit:
                    await pick_up(
                        identity, release, plan, tokens=tokens, driver_tokens=driver_tokens
                    )
                done += 1
                if done % args.drain_every == 0:
                    await drain_both()
                if done % 50 == 0:
                    log(f"{done} of {args.pickups} pickups")

            cpu_before = time.process_time()
            await asyncio.gather(*(one(n) for n in range(args.pickups)))
            cpu = time.process_time() - cpu_before
            print(
                f"This process (both services and their clients) spent {cpu:.1f} s of CPU on the"
                f" pickups: {cpu / args.pickups * 1000:,.0f} ms a pickup, the sequencer's"
                " steps included"
            )
            while True:
                async with transaction(sessions) as session:
                    fanned = await fan_out(session, now=utcnow(), limit=500)
                if fanned.events == 0:
                    break
            await seal_all(sessions)
            await drain_both()
    print(
        f"Redis, the identity service's keys after {len(members)} client tokens and"
        f" {len(port.all_drivers)} sign-ins:"
    )
    for kind, (count, used) in sorted(cached.items()):
        print(f"  {kind:<40} {count:>5} keys, {used / count:,.0f} B a key")
    return subscriptions, identity_before


def report(service: str, snapshots: Snapshots, pickups: int) -> None:
    """Print one line per table: rows added, per pickup, bytes per row as written and compact."""
    empty, before, after, compact = (
        snapshots.empty[service],
        snapshots.before[service],
        snapshots.after[service],
        snapshots.compact[service],
    )
    print(f"\n{service} service:")
    print(
        f"{'table':<20} {'rows':>8} {'rows/pickup':>11} {'B/row written':>14} {'of it index':>12}"
        f" {'B/row compact':>14} {'of it index':>12}"
    )
    written_total = compact_total = 0.0
    for table in GROWING[service]:
        rows = after[table].rows - before[table].rows
        written = after[table].total - before[table].total
        # VACUUM FULL rewrites the rows held before too: compact is over all rows.
        compacted = compact[table].total - empty[table].total
        written_total += written
        compact_total += compacted * rows / max(1, after[table].rows)
        if rows <= 0:
            print(f"{table:<20} {rows:>8}")
            continue
        written_index = after[table].index_bytes - before[table].index_bytes
        compact_index = compact[table].index_bytes - empty[table].index_bytes
        print(
            f"{table:<20} {rows:>8} {rows / pickups:>11.2f} {written / rows:>14,.0f}"
            f" {written_index / rows:>12,.0f} {compacted / after[table].rows:>14,.0f}"
            f" {compact_index / after[table].rows:>12,.0f}"
        )
    events = after["audit_events"].rows - before["audit_events"].rows
    if events > 0:
        for what, tables in (("tiles", ("audit_tiles",)), ("checkpoints", ("audit_checkpoints",))):
            written = sum(after[t].total - before[t].total for t in tables)
            compacted = sum(compact[t].total - empty[t].total for t in tables)
            print(
                f"  {what} per audit event: {written / events:,.0f} B written,"
                f" {compacted / after['audit_events'].rows:,.0f} B compact"
            )
    print(
        f"  all these tables per pickup: {written_total / pickups:,.0f} B written,"
        f" {compact_total / pickups:,.0f} B compact"
    )


async def main_async(args: argparse.Namespace) -> None:
    """Migrate two fresh schemas, load them, measure, and drop them (unless --keep)."""
    why_not = await postgres_and_redis_answer()
    if why_not is not None:
        raise SystemExit(f"PostgreSQL and Redis are needed: {why_not}")
    run = uuid.uuid4().hex[:8]
    schemas = {name: f"kp_bench_{run}_sizing_{name}" for name in ("identity", "release")}
    common = {
        "database_url": PG_URL,
        "cache_url": REDIS_URL,
        "run_sequencer": False,  # drained here, every --drain-every pickups
        "run_webhooks": False,  # fanned out here at the end; nothing is sent
        "housekeeping_interval_seconds": 0,
        "visit_tick_seconds": 0,
        "log_level": "WARNING",
    }
    identity_settings = (
        SERVICES["identity"]
        .settings()
        .model_copy(
            update={
                **common,
                "database_schema": schemas["identity"],
                "cache_prefix": f"kp-sizing:{run}:identity",
            }
        )
    )
    assert isinstance(identity_settings, IdentitySettings)
    issuer = identity_settings.issuer
    release_settings = (
        SERVICES["release"]
        .settings()
        .model_copy(
            update={
                **common,
                "database_schema": schemas["release"],
                "cache_prefix": f"kp-sizing:{run}:release",
                "identity_url": issuer,
                "identity_issuer": issuer,
                "inspect_probability": 0.0,
                "webhook_allow_private": True,
            }
        )
    )
    assert isinstance(release_settings, ReleaseSettings)
    try:
        await upgrade(identity_settings, SERVICES["identity"].migrations)
        await upgrade(release_settings, SERVICES["release"].migrations)
        empty = {
            service: await sizes(PG_URL, schemas[service], tables)
            for service, tables in GROWING.items()
        }
        began = time.perf_counter()
        subscriptions, identity_before = await load(
            identity_settings, release_settings, schemas, args
        )
        log(f"loaded in {time.perf_counter() - began:.0f} s")
        before = {"release": empty["release"], "identity": identity_before}
        snapshots = Snapshots(empty, before, {}, {})
        for service, tables in GROWING.items():
            snapshots.after[service] = await sizes(PG_URL, schemas[service], tables)
            await vacuum_full(PG_URL, schemas[service], tables)
            snapshots.compact[service] = await sizes(PG_URL, schemas[service], tables)
        print(
            f"{args.pickups} pickups, {subscriptions} webhook subscriptions (each terminal 2 event"
            " types, each carrier 3); bytes per row include indexes and TOAST, less what the"
            " tables held before"
        )
        for service in GROWING:
            report(service, snapshots, args.pickups)
    finally:
        if not args.keep:
            connection = await asyncpg.connect(PG_URL)
            try:
                for schema in schemas.values():
                    await connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            finally:
                await connection.close()
        else:
            log(f"kept the schemas {', '.join(schemas.values())}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--pickups", type=int, default=300, help="containers picked up")
    parser.add_argument(
        "--drain-every", type=int, default=10, help="pickups between sequencer steps"
    )
    parser.add_argument("--keep", action="store_true", help="keep the schemas afterwards")
    args = parser.parse_args(argv)
    if args.pickups < 1 or args.drain_every < 1:
        parser.error("--pickups and --drain-every must be at least 1")
    return args


def main() -> None:
    """Measure and print."""
    asyncio.run(main_async(parse_args()))


if __name__ == "__main__":
    main()
