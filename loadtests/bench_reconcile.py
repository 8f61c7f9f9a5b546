"""Reconciliation time per million audit events (issue 14), on SQLite and PostgreSQL.

For each backend: a freshly migrated release database (a temporary SQLite file, or a schema
`kp_bench_<random>_reconcile` in the database `test`, dropped at the end) is seeded with the
audit events of many releases as the release service writes them (yard announcement,
release, three links submitted and accepted, holds placed and lifted, gate decisions with
their inspection draws, gate-outs, cancellations), bulk-inserted exactly as `append` builds
them, integrated and signed by the real sequencer, and the tables those events imply
(`releases`, `release_holds`, `gate_decisions`, `gate_outs`). Then `reconcile.service.run`
is timed, as the scheduled run does it: one snapshot, every signed event re-hashed and
folded into the tree, the release events replayed, the three tables compared, the run
recorded. It must find no difference; then one hold row is deleted and the next run must
name exactly that row.

The run is bounded (200,000 events by default, `--events`); seconds per million events
are extrapolated linearly from it (the work is one pass over the events plus one over the
tables, so it grows linearly) and printed as such.

    .venv/bin/python -m loadtests.bench_reconcile [--events 200000] [--backend sqlite|postgres|all]
"""

import argparse
import asyncio
import os
import random
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import delete, insert
from sqlmodel import col

from loadtests.audit_backends import (
    Backend,
    EventRow,
    audit_log,
    bulk_load,
    drop_leftover_schemas,
    open_backend,
)
from services.release.gate.models import GateDecision, GateOut
from services.release.reconcile import service
from services.release.releases.models import Hold, Release
from shared.audit.events import canonical_json, commitment
from shared.audit.sequencer import drain
from shared.db import table_of, transaction

BASE = datetime(2026, 11, 1, tzinfo=UTC)
TERMINAL = "EU.EORI.NL100000001"
LINE = "EU.EORI.NL100000002"
FORWARDER = "EU.EORI.NL100000003"
CARRIER = "EU.EORI.NL100000004"
LOAD_CHUNK = 20_000


def _b64ish(rng: random.Random, length: int = 43) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    return "".join(rng.choice(alphabet) for _ in range(length))


@dataclass
class Seed:
    """The events (in log order) and the rows they imply."""

    events: list[EventRow] = field(default_factory=list)
    releases: list[dict[str, Any]] = field(default_factory=list)
    holds: list[dict[str, Any]] = field(default_factory=list)
    decisions: list[dict[str, Any]] = field(default_factory=list)
    gate_outs: list[dict[str, Any]] = field(default_factory=list)


class Port:
    """Builds a realistic stream of release-service events and the rows they leave."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.out = Seed()
        self.clock = BASE

    def append(self, event_type: str, body: dict[str, Any]) -> None:
        """An event as `shared.audit.events.append` stores it."""
        self.clock += timedelta(milliseconds=self.rng.randint(1, 400))
        event_id = uuid.UUID(int=self.rng.getrandbits(128), version=4)
        record = {**body, "id": str(event_id), "type": event_type, "at": self.clock.isoformat()}
        canonical = canonical_json(record)
        salt = self.rng.randbytes(32)
        self.out.events.append(
            (
                event_id,
                self.clock,
                event_type,
                canonical.decode(),
                salt,
                commitment(salt, canonical),
            )
        )

    def release_steps(self, number: int) -> list[Any]:
        """The steps of one release's life, each appending its events (and rows)."""
        rng = self.rng
        release_id = uuid.UUID(int=rng.getrandbits(128), version=4)
        container = f"KPTU{number:06d}0"
        valid_until = int((BASE + timedelta(days=30)).timestamp())
        driver = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        row = {
            "id": release_id,
            "container": container,
            "terminal_id": TERMINAL,
            "shipping_line_id": LINE,
            "first_party_id": FORWARDER,
            "reference": f"BL-{number}",
            "origin": "NL",
            "valid_until": datetime.fromtimestamp(valid_until, UTC),
            "status": "open",
            "created_by": "client:line",
            "created_at": BASE,
            "updated_at": BASE,
            "closed_at": None,
        }
        holds: set[str] = set()
        steps: list[Any] = []

        def announce() -> None:
            self.append(
                "yard.announced",
                {
                    "container": container,
                    "terminal": TERMINAL,
                    "shipping_line": LINE,
                    "state": "in_yard",
                    "valid_until": None,
                    "actor": "client:terminal",
                },
            )

        def create() -> None:
            self.out.releases.append(row)
            self.append(
                "release.created",
                {
                    "release_id": str(release_id),
                    "container": container,
                    "terminal": TERMINAL,
                    "shipping_line": LINE,
                    "release_to": FORWARDER,
                    "valid_until": valid_until,
                    "reference": f"BL-{number}",
                    "origin": "NL",
                    "link_hash": _b64ish(rng),
                    "received_at": self.clock.isoformat(),
                    "actor": "client:line",
                },
            )

        def link(seq: int, kind: str, sender: str, to: str, event: str) -> None:
            extra = {"ack_hash": _b64ish(rng)} if event == "link.accepted" else {}
            self.append(
                event,
                {
                    "release_id": str(release_id),
                    "seq": seq,
                    "kind": kind,
                    "from": sender,
                    "to": to,
                    "jti": str(uuid.uuid4()),
                    "link_hash": _b64ish(rng),
                    "received_at": self.clock.isoformat(),
                    "actor": "person:dispatcher",
                    "party_id": sender,
                    **extra,
                },
            )

        def hold(kind: str, lift: bool) -> None:
            if lift:
                holds.discard(kind)
                self.append(
                    "hold.lifted",
                    {"release_id": str(release_id), "kind": kind, "actor": "person:officer"},
                )
            else:
                holds.add(kind)
                self.append(
                    "hold.placed",
                    {
                        "release_id": str(release_id),
                        "kind": kind,
                        "reason": "X-ray",
                        "actor": "person:officer",
                    },
                )

        def decide(complete: bool) -> None:
            decision_id = uuid.UUID(int=rng.getrandbits(128), version=4)
            draw_id = uuid.uuid4()
            self.append(
                "inspection.drawn",
                {
                    "draw_id": str(draw_id),
                    "purpose": "container",
                    "alpha": _b64ish(rng, 220),
                    "key_id": _b64ish(rng),
                    "pi": _b64ish(rng, 107),
                    "beta": _b64ish(rng, 86),
                    "u": rng.random(),
                    "probability": 0.02,
                    "selected": False,
                },
            )
            reasons = [
                {"code": f"{kind}_hold", "detail": f"the release is under a {kind} hold"}
                for kind in sorted(holds)
            ]
            decision = "deny" if holds else "release"
            self.append(
                "gate.decided",
                {
                    "decision_id": str(decision_id),
                    "container": container,
                    "terminal": TERMINAL,
                    "release_id": str(release_id),
                    "driver": driver,
                    "method": "gate_pass",
                    "decision": decision,
                    "reasons": reasons,
                    "gate_pass_jti": str(uuid.uuid4()),
                    "actor": "client:terminal",
                    "draw_id": str(draw_id),
                    "inspection_id": None,
                    "status_lists": [_b64ish(rng), _b64ish(rng)],
                },
            )
            self.out.decisions.append(
                {
                    "id": decision_id,
                    "container": container,
                    "terminal_id": TERMINAL,
                    "release_id": release_id,
                    "driver_id": uuid.UUID(driver),
                    "method": "gate_pass",
                    "decision": decision,
                    "reasons": reasons,
                    "gate_pass_jti": None,
                    "decided_by": "client:terminal",
                    "decided_at": self.clock,
                    "event_id": uuid.uuid4(),
                    "completed_at": self.clock if complete else None,
                    "draw_id": draw_id,
                    "inspection_id": None,
                }
            )
            if complete and decision == "release":
                row["status"] = "picked_up"
                self.out.gate_outs.append(
                    {
                        "release_id": release_id,
                        "decision_id": decision_id,
                        "completed_by": "client:terminal",
                        "completed_at": self.clock,
                    }
                )
                self.append(
                    "gate.completed",
                    {
                        "decision_id": str(decision_id),
                        "release_id": str(release_id),
                        "container": container,
                        "driver": driver,
                        "actor": "client:terminal",
                    },
                )

        def cancel() -> None:
            row["status"] = "cancelled"
            self.append(
                "release.cancelled",
                {"release_id": str(release_id), "withdrawn": [0, 1, 2], "actor": "client:line"},
            )

        def finish() -> None:
            for kind in sorted(holds):
                self.out.holds.append(
                    {
                        "release_id": release_id,
                        "kind": kind,
                        "placed_by_party": "EU.EORI.NL1",
                        "placed_by": "person:officer",
                        "reason": "X-ray",
                        "placed_at": BASE,
                    }
                )

        steps += [announce, create]
        for seq, (kind, sender, to) in enumerate(
            (
                ("release", LINE, FORWARDER),
                ("handover", FORWARDER, CARRIER),
                ("assignment", CARRIER, driver),
            )
        ):
            steps.append(lambda s=seq, k=kind, f=sender, t=to: link(s, k, f, t, "link.submitted"))
            steps.append(lambda s=seq, k=kind, f=sender, t=to: link(s, k, f, t, "link.accepted"))
        fate = rng.random()
        if fate < 0.25:  # customs looks at it: a hold, mostly lifted again
            steps.append(lambda: hold("customs", False))
            steps.append(lambda: decide(False))  # denied while held
            if rng.random() < 0.8:
                steps.append(lambda: hold("customs", True))
                steps.append(lambda: decide(True))
        elif fate < 0.35:
            steps.append(lambda: hold("terminal", False))
            steps.append(cancel)
        elif fate < 0.95:
            steps.append(lambda: decide(True))
        # else: still open, not yet at the gate
        steps.append(finish)
        return steps

    def build(self, events: int) -> Seed:
        """Releases in flight together (their events interleave) until `events` are made."""
        number = 0
        while len(self.out.events) < events:
            batch = [self.release_steps(number + k) for k in range(50)]
            number += 50
            for position in range(max(len(steps) for steps in batch)):
                for steps in batch:
                    if position < len(steps):
                        steps[position]()
        return self.out


async def _insert(backend: Backend, model: Any, rows: list[dict[str, Any]]) -> None:
    table = table_of(model)
    for first in range(0, len(rows), LOAD_CHUNK):
        async with transaction(backend.sessions) as session:
            connection = await session.connection()
            await connection.execute(insert(table), rows[first : first + LOAD_CHUNK])


async def _seed(backend: Backend, seed: Seed) -> float:
    started = time.perf_counter()
    for first in range(0, len(seed.events), LOAD_CHUNK * 5):
        await bulk_load(backend, seed.events[first : first + LOAD_CHUNK * 5])
    await _insert(backend, Release, seed.releases)
    await _insert(backend, Hold, seed.holds)
    await _insert(backend, GateDecision, seed.decisions)
    await _insert(backend, GateOut, seed.gate_outs)
    log = audit_log()
    await drain(backend.sessions, signer=log.signer, origin=log.origin, batch_size=5000)
    return time.perf_counter() - started


async def _timed_run(backend: Backend) -> tuple[float, float, service.Outcome]:
    """Wall-clock and this process's CPU seconds of one run (the CPU figure is the steadier
    one on a shared machine; PostgreSQL's own work is in the wall clock only)."""
    started, cpu = time.perf_counter(), time.process_time()
    outcome = await service.run(
        backend.read_sessions, backend.sessions, log=audit_log(), actor="bench"
    )
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    assert outcome is not None
    return elapsed, cpu, outcome


async def bench(kind: str, seed: Seed, workdir: Path) -> dict[str, Any]:
    """Seed one backend, reconcile it clean, then with one hold row deleted."""
    async with open_backend(kind, workdir, "reconcile") as backend:
        seeded = await _seed(backend, seed)
        clean_seconds, clean_cpu, clean = await _timed_run(backend)
        if clean.report.differences:
            raise AssertionError(f"a faithful seed differs: {clean.report.differences[:3]}")
        victim = seed.holds[0]
        async with transaction(backend.sessions) as session:
            await session.exec(
                delete(Hold).where(
                    col(Hold.release_id) == victim["release_id"],
                    col(Hold.kind) == victim["kind"],
                )
            )
        tampered_seconds, _, tampered = await _timed_run(backend)
        named = [(d.table, d.key, d.problem) for d in tampered.report.differences]
        expected = [
            (
                "release_holds",
                {"release_id": str(victim["release_id"]), "kind": victim["kind"]},
                "missing",
            )
        ]
        if named != expected or tampered.alert_id is None:
            raise AssertionError(f"the deleted hold was not named alone: {named}")
        return {
            "backend": backend.name,
            "events": clean.report.signed_size,
            "releases": clean.report.releases,
            "seed_seconds": seeded,
            "clean_seconds": clean_seconds,
            "clean_cpu": clean_cpu,
            "tampered_seconds": tampered_seconds,
        }


def _print(result: dict[str, Any]) -> None:
    events = result["events"]
    per_million = result["clean_seconds"] * 1_000_000 / events
    print(
        f"{result['backend']:<10} {events:>9,} events {result['releases']:>7,} releases  "
        f"reconcile {result['clean_seconds']:6.2f} s ({events / result['clean_seconds']:,.0f} "
        f"events/s) = {per_million:5.1f} s per million (extrapolated; CPU "
        f"{result['clean_cpu'] * 1_000_000 / events:.1f} s); with one hold deleted "
        f"{result['tampered_seconds']:.2f} s, named and alerted; "
        f"seeding {result['seed_seconds']:.1f} s"
    )


async def main() -> None:
    """Run the benchmark on the chosen backends and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--backend", choices=("sqlite", "postgres", "all"), default="all")
    args = parser.parse_args()
    started = time.perf_counter()
    seed = Port(seed=14).build(args.events)
    print(
        f"seed: {len(seed.events):,} events of {len(seed.releases):,} releases "
        f"({len(seed.holds):,} holds, {len(seed.gate_outs):,} gate-outs), built in "
        f"{time.perf_counter() - started:.1f} s"
    )
    kinds = ("sqlite", "postgres") if args.backend == "all" else (args.backend,)
    try:
        with tempfile.TemporaryDirectory(prefix="kp-bench-reconcile-") as workdir:
            for kind in kinds:
                _print(await bench(kind, seed, Path(workdir)))
    finally:
        await drop_leftover_schemas()
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    print(
        f"total {time.perf_counter() - started:.0f} s; load average {load} on {os.cpu_count()} CPUs"
    )


if __name__ == "__main__":
    asyncio.run(main())
