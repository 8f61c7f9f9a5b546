"""Benchmark of the monitoring rules over the release service's access log.

Run: `.venv/bin/python -m loadtests.bench_rules [--rows 100000] [--arrived 10000]
[--backends sqlite,postgres]`

For each backend a freshly migrated release database (a temporary SQLite file, or a
PostgreSQL schema of its own, dropped at the end; `loadtests.audit_backends.open_backend`)
is filled with `--rows` access-log rows over 30 days: 2,000 people and 200 API clients, day
shifts mostly, a few look-ups refused; and 5 insiders with 250 reads each in the last five
minutes (two of them with 5 refused), so that some rules fire. Then, through the real code
(`shared.monitoring.runner.RuleRunner` with the release service's rules):

- arrival: the runner's cursor is set `--arrived` rows before the end and it looks
  (`step`) until it has caught up: every access-log rule judges each batch of 500 rows;
- sweep: every rule judges its whole window once (`sweep`).

It prints rows judged per second on arrival, and per rule the time it took (its share of a
look), and the sweep's time. Progress on stderr, the table on stdout. Bounded: the defaults
take well under two minutes on a laptop for both backends.
"""

import argparse
import asyncio
import random
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import insert

from loadtests.audit_backends import Backend, open_backend, pg_connect
from loadtests.harness import log
from services.release.access.models import AccessLogEntry
from services.release.monitoring.rules import release_rules
from shared.cache import MemoryCache
from shared.db import table_of, transaction
from shared.monitoring import repository
from shared.monitoring.rules import Rule
from shared.monitoring.runner import RuleRunner
from shared.monitoring.sources import ACCESS_LOG, Source, audit_source

NOW = datetime(2026, 12, 1, 14, 30, tzinfo=UTC)
PEOPLE = 2_000
CLIENTS = 200
CHUNK = 5_000
SEED = 14
INSIDER_READS = 250


def access_rows(count: int, seed: int) -> list[dict[str, Any]]:
    """`count` access-log rows over the 30 days before NOW, oldest first."""
    rng = random.Random(seed)
    people = [uuid.UUID(int=rng.getrandbits(128), version=4) for _ in range(PEOPLE)]
    rows: list[dict[str, Any]] = []
    for _ in range(count):
        day = rng.randrange(30)
        # Mostly office hours (UTC 6 to 16); one read in fifty at any hour.
        hour = rng.randrange(24) if rng.random() < 0.02 else rng.randrange(6, 17)
        at = NOW - timedelta(days=day, hours=NOW.hour - hour, seconds=rng.randrange(3600))
        if rng.random() < 0.1:
            party = f"EU.EORI.NL{rng.randrange(CLIENTS):09d}"
            actor, person = f"client:{party}", None
        else:
            person = rng.choice(people)
            party = f"EU.EORI.NL{hash(person) % 500:09d}"
            actor = f"person:{person}"
        refused = rng.random() < 0.03
        rows.append(
            {
                "at": min(at, NOW),
                "actor": actor,
                "party_id": party,
                "person_id": person,
                "action": "release.read",
                "release_id": uuid.UUID(int=rng.getrandbits(128), version=4),
                "container": f"KPTU{rng.randrange(10**6):06d}0",
                "outcome": "not_found" if refused else "shown",
                "results": 0 if refused else 1,
            }
        )
    # A few insiders among them: bursts of reads, and look-ups refused, in the last minutes.
    for n in range(5):
        insider = f"person:{uuid.UUID(int=n + 1)}"
        for k in range(INSIDER_READS):
            refused = n < 2 and k % 50 == 0
            rows.append(
                {
                    "at": NOW - timedelta(seconds=rng.randrange(300)),
                    "actor": insider,
                    "party_id": "EU.EORI.NL999999999",
                    "person_id": uuid.UUID(int=n + 1),
                    "action": "release.search",
                    "release_id": None,
                    "container": f"KPTU{rng.randrange(10**6):06d}0",
                    "outcome": "not_found" if refused else "shown",
                    "results": 0 if refused else 1,
                }
            )
    rows.sort(key=lambda row: str(row["at"].isoformat()))
    return rows


async def load(backend: Backend, rows: list[dict[str, Any]]) -> None:
    """Insert the rows in chunks, each a transaction."""
    statement = insert(table_of(AccessLogEntry))
    for start in range(0, len(rows), CHUNK):
        async with transaction(backend.sessions) as session:
            connection = await session.connection()
            await connection.execute(statement, rows[start : start + CHUNK])


class TimedRule:
    """Wraps a rule's `check` to add up its time."""

    def __init__(self, rule: Rule, spent: dict[str, float]) -> None:
        self.rule = rule
        self.spent = spent
        original = rule.check

        async def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return await original(*args, **kwargs)
            finally:
                spent[rule.name] += time.perf_counter() - started

        rule.check = timed  # type: ignore[method-assign]


async def measure(backend: Backend, rows: int, arrived: int) -> dict[str, Any]:
    """Load, then time arrival and sweep; the figures of one backend."""
    started = time.perf_counter()
    await load(backend, access_rows(rows, SEED))
    loaded = time.perf_counter() - started
    log(f"{backend.name}: {rows} rows loaded in {loaded:.1f} s")
    rules = release_rules(ZoneInfo("Europe/Amsterdam"))
    spent: dict[str, float] = defaultdict(float)
    for rule in rules.rules.values():
        TimedRule(rule, spent)
    runner = RuleRunner(
        backend.sessions,
        MemoryCache("bench"),
        rules,
        [Source(ACCESS_LOG, AccessLogEntry), audit_source()],
        poll_seconds=1,
        sweep_seconds=0,
    )
    await runner.step(NOW)  # the first look puts the cursors at the end
    async with transaction(backend.sessions) as session:
        end = await Source(ACCESS_LOG, AccessLogEntry).newest(session)
        await repository.move_cursor(session, ACCESS_LOG, end - arrived, NOW)
    started = time.perf_counter()
    report = await runner.step(NOW)
    arrival = time.perf_counter() - started
    arrival_spent = dict(spent)
    spent.clear()
    started = time.perf_counter()
    swept = await runner.sweep(NOW)
    sweep = time.perf_counter() - started
    return {
        "backend": backend.name,
        "rows": rows,
        "arrived": report.rows,
        "arrival_seconds": arrival,
        "raised_on_arrival": report.raised,
        "arrival_by_rule": arrival_spent,
        "sweep_seconds": sweep,
        "raised_on_sweep": swept.raised,
        "sweep_by_rule": dict(spent),
    }


async def postgres_answers() -> bool:
    """Whether the benchmark's PostgreSQL answers."""
    try:
        connection = await pg_connect()
    except Exception:
        return False
    await connection.close()
    return True


def print_table(results: list[dict[str, Any]]) -> None:
    """The figures, as Markdown tables."""
    print("| backend | access-log rows | arrived | look | rows judged/s | alerts | sweep |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        rate = r["arrived"] / r["arrival_seconds"] if r["arrival_seconds"] else 0.0
        print(
            f"| {r['backend']} | {r['rows']:,} | {r['arrived']:,} | {r['arrival_seconds']:.2f} s"
            f" | {rate:,.0f} | {r['raised_on_arrival']} + {r['raised_on_sweep']} (sweep)"
            f" | {r['sweep_seconds']:.2f} s |"
        )
    print()
    print("| backend | rule | on arrival | in the sweep |")
    print("|---|---|---|---|")
    for r in results:
        for name in sorted(r["arrival_by_rule"] | r["sweep_by_rule"]):
            print(
                f"| {r['backend']} | {name} | {r['arrival_by_rule'].get(name, 0.0):.2f} s"
                f" | {r['sweep_by_rule'].get(name, 0.0):.2f} s |"
            )


async def main() -> None:
    """Run the benchmark on each backend asked for."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--arrived", type=int, default=10_000)
    parser.add_argument("--backends", default="sqlite,postgres")
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as scratch:
        for kind in args.backends.split(","):
            if kind == "postgres" and not await postgres_answers():
                log("PostgreSQL does not answer: skipped")
                continue
            async with open_backend(kind, Path(scratch), "rules") as backend:
                results.append(await measure(backend, args.rows, args.arrived))
    print_table(results)
    sys.stdout.flush()


if __name__ == "__main__":
    asyncio.run(main())
