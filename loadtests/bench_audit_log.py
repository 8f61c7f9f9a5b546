"""Benchmark of the audit log against pymerkle, on the same entries, in one run.

Run: `.venv/bin/python -m loadtests.bench_audit_log [--quick] [--profile]`, or
`--cold-proofs` for cold inclusion proofs only, today's path beside the one before it
(`loadtests/audit_cold_proofs.py`, a minute; with `--quick`, at 10^5 entries).

Ours is measured through the real code: `shared.audit.events.append` in committed
transactions (`shared.db.transaction`), `shared.audit.sequencer.drain`, and
`shared.audit.service.inclusion_proof` / `consistency_proof` on a `LogReader` per proof, as
the read API serves them, against tiles stored in SQLite (a temporary file) and in PostgreSQL
(127.0.0.1, database `test`, a schema of our own that is dropped at the end). pymerkle runs
in a child process over the very same 32-byte entries (the event commitments), with
RFC 9162 hashing (SHA-256, 0x00/0x01 prefixes); its roots and inclusion paths must equal
ours. Progress goes to stderr, the table to stdout. Full run: 10^5 and 10^6 entries;
`--quick`: 10^4 and 10^5. `--profile` adds cProfile listings of the slowest parts.
"""

import argparse
import asyncio
import cProfile
import io
import json
import os
import platform
import pstats
import random
import signal
import sqlite3
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loadtests import audit_backends as ours
from loadtests import audit_cold_proofs as cold
from loadtests.audit_backends import Backend
from loadtests.audit_common import (
    SEED,
    Rate,
    Timers,
    index_stream,
    old_size_stream,
    run_child,
    sample,
    time_loop_async,
)
from loadtests.harness import log
from shared.audit import repository as repo
from shared.audit import service, tilecache
from shared.audit.events import append
from shared.audit.tilecache import TileCache
from shared.db import transaction
from shared.tlog import tiles
from shared.tlog.merkle import leaf_hash, verify_consistency, verify_inclusion

TARGET_INTEGRATED = 3_000
TARGET_INCLUSION = 2_000
WRITERS = 16
READERS = 8
VERIFY_SAMPLE = 50
CROSS_SAMPLE = 20
BACKENDS = ("sqlite", "postgres")


@dataclass(frozen=True)
class Config:
    """Sizes and time bounds of one run."""

    sizes: tuple[int, int]
    append_seconds: float
    proof_seconds: float
    pymerkle_append_seconds: float
    timeout: float
    profile: bool = False


FULL = Config((10**5, 10**6), 4.0, 2.5, 2.0, timeout=1800)
QUICK = Config((10**4, 10**5), 1.0, 0.6, 0.5, timeout=300)


@dataclass
class ScaleFigures:
    """Our figures for one backend at one tree size."""

    load: Rate = field(default_factory=lambda: Rate(0, 0))
    drain: dict[str, Any] = field(default_factory=dict)
    proofs: dict[str, Rate] = field(default_factory=dict)
    check: dict[str, Any] = field(default_factory=dict)
    storage: dict[str, Any] = field(default_factory=dict)


@dataclass
class BackendFigures:
    """Our figures for one backend."""

    appends: dict[str, Rate] = field(default_factory=dict)
    append_drain: dict[str, Any] = field(default_factory=dict)
    scales: dict[int, ScaleFigures] = field(default_factory=dict)
    vacuumed: dict[str, Any] = field(default_factory=dict)
    breakdown: dict[str, dict[str, Any]] = field(default_factory=dict)
    vacuum_seconds: float = 0.0


# --- appends ---------------------------------------------------------------------------


async def append_rate(
    backend: Backend, *, writers: int, per_transaction: int, seconds: float
) -> Rate:
    """Events per second from `writers` tasks, each committing `per_transaction` at a time."""
    deadline = time.perf_counter() + seconds
    committed = [0] * writers

    async def writer(number: int) -> None:
        rng = random.Random(number)
        while time.perf_counter() < deadline:
            async with transaction(backend.sessions) as session:
                for _ in range(per_transaction):
                    await append(session, ours.EVENT_TYPE, ours.payload(committed[number], rng))
            committed[number] += per_transaction

    start = time.perf_counter()
    await asyncio.gather(*(writer(number) for number in range(writers)))
    return Rate(sum(committed), time.perf_counter() - start)


APPEND_RUNS = {"one_writer": (1, 1), "one": (WRITERS, 1), "hundred": (WRITERS, 100)}


async def measure_appends(
    config: Config, workdir: Path, figures: dict[str, BackendFigures], profiles: dict[str, str]
) -> None:
    """Appends through the real path, then the sequencer over what was appended."""
    for kind in BACKENDS:
        async with ours.open_backend(kind, workdir, "appends") as backend:
            for label, (writers, per_transaction) in APPEND_RUNS.items():
                log(
                    f"{backend.name}: appends, {writers} writer(s) x {per_transaction} "
                    "event(s) per transaction"
                )
                figures[kind].appends[label] = await append_rate(
                    backend,
                    writers=writers,
                    per_transaction=per_transaction,
                    seconds=config.append_seconds,
                )
            if config.profile:
                profiler = cProfile.Profile()
                profiler.enable()
                extra = await append_rate(
                    backend, writers=WRITERS, per_transaction=1, seconds=config.append_seconds
                )
                profiler.disable()
                figures[kind].appends["profiled"] = extra
                profiles[f"appends, {WRITERS} writers x 1 event/tx, {backend.name}"] = (
                    profile_listing(profiler)
                )
            appended = sum(rate.count for rate in figures[kind].appends.values())
            log(f"{backend.name}: sequencer drains the {appended} appended events")
            drained = await ours.run_drain_child(backend, limit_seconds=config.timeout)
            if drained["size"] != appended:
                raise RuntimeError(
                    f"{backend.name}: {drained['size']} integrated, {appended} appended"
                )
            figures[kind].append_drain = drained


# --- proofs ----------------------------------------------------------------------------


async def preload_full_tiles(backend: Backend, cache: TileCache, size: int) -> None:
    """Put every full tile of the tree in the cache (what a long-running service ends with)."""
    keys = [(level, index) for level, index, width in tiles.tiles_for_size(size) if width == 256]
    for start in range(0, len(keys), 256):
        async with backend.read_sessions() as session:
            await repo.read_cached_tiles(
                session, {key: tiles.TILE_WIDTH for key in keys[start : start + 256]}, cache
            )


def proof_operation(
    backend: Backend, kind: str, size: int, cache: TileCache
) -> Callable[[], Awaitable[object]]:
    """One proof on a reader of its own, as one request of the read API serves it."""
    log = ours.audit_log(cache)
    stream = index_stream(size, SEED) if kind == "inclusion" else old_size_stream(size, SEED)

    async def prove() -> object:
        async with backend.reads.reader() as reader:
            if kind == "inclusion":
                return await service.inclusion_proof(reader, log, index=stream(), size=size)
            return await service.consistency_proof(reader, log, old=stream(), new=size)

    return prove


def before_operation(backend: Backend, size: int) -> Callable[[], Awaitable[object]]:
    """A cold inclusion proof as the read API served it before 2026-12-06 (the reference)."""
    prove = cold.before_proof(backend, ours.audit_log(TileCache(max_tiles=0)), size)
    stream = index_stream(size, SEED)
    return lambda: prove(stream())


async def concurrent_rate(
    operation: Callable[[], Awaitable[object]], seconds: float, tasks: int
) -> Rate:
    """Operations per second from `tasks` concurrent clients."""
    deadline = time.perf_counter() + seconds
    done = [0] * tasks

    async def client(number: int) -> None:
        while time.perf_counter() < deadline:
            await operation()
            done[number] += 1

    start = time.perf_counter()
    await asyncio.gather(*(client(number) for number in range(tasks)))
    return Rate(sum(done), time.perf_counter() - start)


async def measure_proofs(backend: Backend, size: int, seconds: float) -> dict[str, Rate]:
    """Proofs per second with no tile cache, a fresh cache, and all full tiles cached."""
    rates: dict[str, Rate] = {}
    rates["inclusion_none_before"] = await time_loop_async(before_operation(backend, size), seconds)
    rates["inclusion_none"] = await time_loop_async(
        proof_operation(backend, "inclusion", size, TileCache(max_tiles=0)), seconds
    )
    for kind in ("inclusion", "consistency"):
        rates[f"{kind}_fresh"] = await time_loop_async(
            proof_operation(backend, kind, size, TileCache()), seconds
        )
        warm = TileCache()
        await preload_full_tiles(backend, warm, size)
        rates[f"{kind}_warm"] = await time_loop_async(
            proof_operation(backend, kind, size, warm), seconds
        )
        if kind == "inclusion":
            rates["inclusion_concurrent"] = await concurrent_rate(
                proof_operation(backend, kind, size, warm), seconds, READERS
            )
    return rates


async def check_proofs(backend: Backend, size: int, commitments: Path) -> dict[str, Any]:
    """Verify a sample of our proofs; keep the paths and roots pymerkle must agree with."""
    log = ours.audit_log()
    failures: list[str] = []
    with commitments.open("rb") as file:
        expected = file.read(size * 32)
    async with transaction(backend.sessions) as session:
        stored_size, root = await repo.load_state(session)
        if stored_size != size:
            failures.append(f"tree holds {stored_size}, expected {size}")
        if await service.root_at(session, log, size) != root:
            failures.append("root_at(size) differs from the stored root")
        for index in sample(index_stream(size, SEED + 1), VERIFY_SAMPLE):
            proof = await service.inclusion_proof(session, log, index=index, size=size)
            entries = await repo.entries(session, index, 1)
            if entries != [expected[index * 32 : index * 32 + 32]]:
                failures.append(f"entry {index} is not the commitment that was loaded")
            elif not verify_inclusion(leaf_hash(entries[0]), index, size, proof, root):
                failures.append(f"inclusion proof of {index} does not verify")
        for old in sample(old_size_stream(size, SEED + 1), VERIFY_SAMPLE):
            proof = await service.consistency_proof(session, log, old=old, new=size)
            old_root = await service.root_at(session, log, old)
            if not verify_consistency(old, size, old_root, root, proof):
                failures.append(f"consistency proof {old} -> {size} does not verify")
        paths = {
            str(index): [
                h.hex() for h in await service.inclusion_proof(session, log, index=index, size=size)
            ]
            for index in sample(index_stream(size, SEED + 2), CROSS_SAMPLE)
        }
        old_roots = {
            str(old): (await service.root_at(session, log, old)).hex()
            for old in sample(old_size_stream(size, SEED + 2), CROSS_SAMPLE)
        }
    return {
        "verified": 2 * VERIFY_SAMPLE,
        "failures": failures,
        "root": root.hex(),
        "paths": paths,
        "old_roots": old_roots,
    }


async def proof_breakdown(backend: Backend, size: int, seconds: float) -> dict[str, Any]:
    """Where the time of one inclusion proof goes, with no tile cache and with a warm one."""
    result: dict[str, Any] = {}
    for label in ("none", "warm"):
        cache = TileCache(max_tiles=0) if label == "none" else TileCache()
        if label == "warm":
            await preload_full_tiles(backend, cache, size)
        prove = proof_operation(backend, "inclusion", size, cache)
        timers = Timers()
        timers.wrap_async(service, "inclusion_proof")
        timers.wrap_async(repo, "read_tiles")
        timers.wrap_sync(tilecache.Tile, "__init__")
        try:
            rate = await time_loop_async(prove, seconds)
        finally:
            timers.restore()
        result[label] = {"rate": rate, "timers": timers.as_dict()}
    return result


async def profile_proofs(backend: Backend, size: int, seconds: float) -> str:
    """cProfile listing of warm inclusion proofs."""
    cache = TileCache()
    await preload_full_tiles(backend, cache, size)
    prove = proof_operation(backend, "inclusion", size, cache)
    profiler = cProfile.Profile()
    profiler.enable()
    await time_loop_async(prove, seconds)
    profiler.disable()
    return profile_listing(profiler)


def profile_listing(profile: cProfile.Profile | str, lines: int = 22) -> str:
    """The top of a cProfile report, by own time."""
    out = io.StringIO()
    stats = pstats.Stats(profile, stream=out)
    stats.strip_dirs().sort_stats("tottime").print_stats(lines)
    return out.getvalue()


# --- the scale runs ----------------------------------------------------------------------


async def measure_scales(
    config: Config, workdir: Path, figures: dict[str, BackendFigures], profiles: dict[str, str]
) -> Path:
    """Load, integrate, prove and weigh at both sizes, on both backends; the entries file."""
    commitments = workdir / "commitments.bin"
    async with (
        ours.open_backend("sqlite", workdir, "scale") as sqlite_backend,
        ours.open_backend("postgres", workdir, "scale") as pg_backend,
    ):
        backends = {"sqlite": sqlite_backend, "postgres": pg_backend}
        loaded = 0
        with commitments.open("wb") as entries_file:
            for size in config.sizes:
                log(f"generating and bulk-loading events {loaded} .. {size - 1}")
                load_seconds = dict.fromkeys(BACKENDS, 0.0)
                for rows in ours.event_chunks(loaded, size, SEED):
                    entries_file.write(b"".join(row[5] for row in rows))
                    for kind, backend in backends.items():
                        start = time.perf_counter()
                        await ours.bulk_load(backend, rows)
                        load_seconds[kind] += time.perf_counter() - start
                entries_file.flush()
                for kind, backend in backends.items():
                    scale = figures[kind].scales.setdefault(size, ScaleFigures())
                    scale.load = Rate(size - loaded, load_seconds[kind])
                    profile_path = workdir / f"drain_{kind}.prof"
                    last = size == config.sizes[-1]
                    log(f"{backend.name}: sequencer integrates {loaded} .. {size - 1}")
                    scale.drain = await ours.run_drain_child(
                        backend,
                        limit_seconds=config.timeout,
                        profile=profile_path if config.profile and last else None,
                    )
                    if config.profile and last:
                        profiles[f"sequencer drain, {backend.name}"] = profile_listing(
                            str(profile_path)
                        )
                    scale.storage = await ours.storage(backend)
                    if kind == "postgres":
                        # What autovacuum would do soon after 10^5 UPDATEs; done here so that
                        # it does not run during the timed proofs.
                        start = time.perf_counter()
                        await ours.vacuum_analyze(backend)
                        figures[kind].vacuum_seconds += time.perf_counter() - start
                    log(f"{backend.name}: proofs at {size}")
                    scale.proofs = await measure_proofs(backend, size, config.proof_seconds)
                    scale.check = await check_proofs(backend, size, commitments)
                    if last:
                        figures[kind].breakdown = await proof_breakdown(
                            backend, size, config.proof_seconds
                        )
                        if config.profile:
                            profiles[
                                f"warm inclusion proofs, {backend.name}"
                            ] = await profile_proofs(backend, size, config.proof_seconds)
                loaded = size
        log("PostgreSQL: VACUUM FULL, to weigh the tables without dead row versions")
        figures["postgres"].vacuumed = await ours.storage(pg_backend, vacuum_full=True)
    return commitments


async def measure_ours(
    config: Config, workdir: Path, figures: dict[str, BackendFigures], profiles: dict[str, str]
) -> Path:
    """Every figure of ours; drops what it created, even on failure."""
    try:
        await measure_appends(config, workdir, figures, profiles)
        return await measure_scales(config, workdir, figures, profiles)
    finally:
        await ours.drop_leftover_schemas()


async def run_pymerkle(config: Config, workdir: Path, commitments: Path) -> dict[str, Any]:
    """pymerkle's figures, from its own child process."""
    settings = {
        "entries": str(commitments),
        "sizes": list(config.sizes),
        "workdir": str(workdir),
        "seconds": config.proof_seconds,
        "append_seconds": config.pymerkle_append_seconds,
        "samples": CROSS_SAMPLE,
        "seed": SEED,
    }
    path = workdir / "pymerkle.json"
    path.write_text(json.dumps(settings))
    return await run_child(
        "loadtests.audit_pymerkle", str(path), cwd=ours.ROOT, limit_seconds=config.timeout
    )


async def measure_all(
    config: Config, workdir: Path, figures: dict[str, BackendFigures], profiles: dict[str, str]
) -> tuple[str, dict[str, Any]]:
    """The server's version, every figure of ours, then pymerkle's; SIGTERM cancels cleanly."""
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    version = await postgres_version()
    commitments = await asyncio.wait_for(
        measure_ours(config, workdir, figures, profiles), config.timeout
    )
    log("pymerkle: trees, proofs, appends (child process)")
    return version, await run_pymerkle(config, workdir, commitments)


# --- the table -----------------------------------------------------------------------------

COLUMNS = ("ours SQLite", "ours PostgreSQL", "pymerkle SqliteTree", "pymerkle InmemoryTree")


def per_second(rate: Rate | dict[str, float] | None) -> str:
    """A rate as `12,345/s`."""
    if rate is None:
        return "-"
    if isinstance(rate, dict):
        rate = Rate(int(rate["count"]), float(rate["seconds"]))
    value = rate.per_second
    return f"{value:,.0f}/s" if value >= 10 else f"{value:,.1f}/s"


def mib(value: float) -> str:
    """Bytes as MiB."""
    return f"{value / 2**20:,.1f} MiB"


def power(size: int) -> str:
    """10^5 rather than 100000."""
    exponent = len(str(size)) - 1
    return f"10^{exponent}" if size == 10**exponent else f"{size:,}"


class Table:
    """Rows of (figure, four columns, target), with section headings."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, ...]] = []

    def section(self, title: str) -> None:
        """A heading row."""
        self.rows.append((title,))

    def row(self, figure: str, *cells: str, target: str = "") -> None:
        """One figure across the columns."""
        self.rows.append((figure, *cells, target))

    def render(self) -> str:
        """Fixed-width text."""
        header = ("figure", *COLUMNS, "target")
        full = [row for row in self.rows if len(row) > 1]
        widths = [max(len(row[i]) for row in [header, *full]) for i in range(len(header))]
        rule = "-+-".join("-" * w for w in widths)

        def line(row: tuple[str, ...]) -> str:
            first = row[0].ljust(widths[0])
            rest = [cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True)]
            return " | ".join([first, *rest]).rstrip()

        out = [line(header), rule]
        for row in self.rows:
            out.append(f"== {row[0]}" if len(row) == 1 else line(row))
        return "\n".join(out)


def bytes_per_entry(total: float, size: int) -> str:
    """Bytes divided by entries."""
    return f"{total / size:,.0f} B"


def build_table(
    config: Config, figures: dict[str, BackendFigures], pm: dict[str, Any]
) -> tuple[Table, list[str]]:
    """The table and the problems found (proofs that fail, roots that differ)."""
    table = Table()
    problems: list[str] = []
    large = config.sizes[-1]
    sq, pg = figures["sqlite"], figures["postgres"]
    pm_scales = {int(scale["size"]): scale for scale in pm["scales"]}
    appends = pm["appends"]

    table.section("1. appends and integration (entries per second)")
    table.row(
        "append, 1 writer x 1 event/tx [a]",
        per_second(sq.appends["one_writer"]),
        per_second(pg.appends["one_writer"]),
        per_second(appends["sqlite_one"]),
        per_second(appends["inmemory_one"]),
    )
    table.row(
        f"append, {WRITERS} writers x 1 event/tx [a]",
        per_second(sq.appends["one"]),
        per_second(pg.appends["one"]),
        "(1 writer: above)",
        "(1 writer: above)",
    )
    table.row(
        f"append, {WRITERS} writers x 100 events/tx [a]",
        per_second(sq.appends["hundred"]),
        per_second(pg.appends["hundred"]),
        per_second(appends["sqlite_batch100"]),
        per_second(appends["inmemory_batch100"]),
    )
    table.row(
        "bulk load, not the real path [b]",
        per_second(sq.scales[large].load),
        per_second(pg.scales[large].load),
        per_second(appends["sqlite_batch10000"]),
        per_second(appends["inmemory_batch10000"]),
    )

    def drained(result: dict[str, Any]) -> str:
        return per_second(Rate(int(result["integrated"]), float(result["seconds"])))

    table.row(
        "integrated, the append-run events [c]",
        drained(sq.append_drain),
        drained(pg.append_drain),
        "-",
        "-",
        target=f">= {TARGET_INTEGRATED:,}/s PG",
    )
    before = 0
    for size in config.sizes:
        table.row(
            f"integrated, {power(before) if before else 0} -> {power(size)} [c]",
            drained(sq.scales[size].drain),
            drained(pg.scales[size].drain),
            per_second(pm_scales[size]["sqlite_build"]),
            per_second(pm_scales[size]["inmemory_build"]),
            target=f">= {TARGET_INTEGRATED:,}/s PG",
        )
        before = size

    for size in config.sizes:
        target = f">= {TARGET_INCLUSION:,}/s" if size == large else ""
        table.section(f"2. proofs per second at {power(size)} entries, from durable storage [d]")
        s, p = sq.scales[size].proofs, pg.scales[size].proofs
        pms = pm_scales[size]["sqlite_proofs"]
        pmm = pm_scales[size]["inmemory_proofs"]
        table.row(
            "inclusion, no tile cache, before 2026-12-06 (reference)",
            per_second(s["inclusion_none_before"]),
            per_second(p["inclusion_none_before"]),
            "-",
            "-",
        )
        table.row(
            "inclusion, no tile cache",
            per_second(s["inclusion_none"]),
            per_second(p["inclusion_none"]),
            "-",
            "-",
            target=">= 1,000/s" if size == large else "",
        )
        table.row(
            "inclusion, cold-ish (fresh cache)",
            per_second(s["inclusion_fresh"]),
            per_second(p["inclusion_fresh"]),
            per_second(pms["inclusion_cold"]),
            per_second(pmm["inclusion_cold"]),
            target=target,
        )
        table.row(
            "inclusion, warm",
            per_second(s["inclusion_warm"]),
            per_second(p["inclusion_warm"]),
            per_second(pms["inclusion_warm"]),
            "(no cache)",
            target=target,
        )
        table.row(
            f"inclusion, warm, {READERS} concurrent clients",
            per_second(s["inclusion_concurrent"]),
            per_second(p["inclusion_concurrent"]),
            "-",
            "-",
            target=target,
        )
        table.row(
            "consistency, cold-ish (fresh cache)",
            per_second(s["consistency_fresh"]),
            per_second(p["consistency_fresh"]),
            per_second(pms["consistency_cold"]),
            per_second(pmm["consistency_cold"]),
        )
        table.row(
            "consistency, warm",
            per_second(s["consistency_warm"]),
            per_second(p["consistency_warm"]),
            per_second(pms["consistency_warm"]),
            "(no cache)",
        )
        cells: list[str] = []
        pm_roots = pm_scales[size]["roots"]
        for kind in BACKENDS:
            check = figures[kind].scales[size].check
            agree = _agreement(check, pm_scales[size])
            problems.extend(f"{kind} at {size}: {f}" for f in check["failures"])
            problems.extend(f"{kind} at {size}: {f}" for f in agree["problems"])
            failed = len(check["failures"])
            cells.append(
                f"{check['verified'] - failed}/{check['verified']} ok, "
                f"{agree['equal']}/{agree['compared']} = pm"
            )
        verified = int(pm_scales[size]["verified"]) // 2
        table.row(
            "proofs verified; paths+roots equal pymerkle's [e]",
            *cells,
            f"{verified}/{verified} ok",
            f"{verified}/{verified} ok",
        )
        table.row(
            "root hash (first 16 hex digits)",
            figures["sqlite"].scales[size].check["root"][:16],
            figures["postgres"].scales[size].check["root"][:16],
            pm_roots["sqlite"][:16],
            pm_roots["inmemory"][:16],
        )
        roots = {
            figures["sqlite"].scales[size].check["root"],
            figures["postgres"].scales[size].check["root"],
            pm_roots["sqlite"],
            pm_roots["inmemory"],
        }
        if len(roots) != 1:
            problems.append(f"the roots at {size} differ: {sorted(roots)}")

    table.section(f"3. storage at {power(large)} entries (bytes per entry) [f]")
    s_store, p_store = sq.scales[large].storage, pg.scales[large].storage
    pm_file = pm_scales[large]["sqlite_file_bytes"]
    table.row(
        "on disk, as written",
        bytes_per_entry(s_store["total"], large),
        bytes_per_entry(p_store["total"], large),
        bytes_per_entry(pm_file, large),
        "(RAM, see 4.)",
    )
    table.row(
        "on disk, PostgreSQL after VACUUM FULL",
        "-",
        bytes_per_entry(pg.vacuumed["total"], large),
        "-",
        "-",
    )
    table.row(
        "  of which the event JSON itself",
        bytes_per_entry(s_store["event_json"], large),
        bytes_per_entry(pg.vacuumed["event_json"], large),
        "0 B",
        "0 B",
    )
    table.row(
        "  of which hash tiles + checkpoints",
        bytes_per_entry(_tiles_and_checkpoints(s_store), large),
        bytes_per_entry(_tiles_and_checkpoints(pg.vacuumed), large),
        "(leaf hash in row)",
        "-",
    )

    table.section("4. memory (resident set) [g]")
    before = 0
    for size in config.sizes:
        cells = []
        for kind in BACKENDS:
            result = figures[kind].scales[size].drain
            growth = max(0, int(result["peak_rss"]) - int(result["baseline_rss"]))
            cells.append(f"{growth / 2**20:+,.1f} MiB (of {mib(int(result['peak_rss']))})")
        cache = pm_scales[size]["sqlite_proofs"]["cache"]["bytes"]
        table.row(
            f"integrating {power(before) if before else 0} -> {power(size)}; pm: holding",
            *cells,
            f"cache {mib(cache)}",
            f"{pm_scales[size]['inmemory_rss_growth'] / 2**20:+,.1f} MiB",
        )
        before = size
    return table, problems


def _tiles_and_checkpoints(store: dict[str, Any]) -> int:
    tables = store["tables"]
    return int(tables.get("audit_tiles", 0)) + int(tables.get("audit_checkpoints", 0))


def _agreement(check: dict[str, Any], pm_scale: dict[str, Any]) -> dict[str, Any]:
    compared = equal = 0
    problems: list[str] = []
    for index, path in check["paths"].items():
        compared += 1
        if pm_scale["paths"].get(index) == path:
            equal += 1
        else:
            problems.append(f"inclusion path of {index} differs from pymerkle's")
    for old, root in check["old_roots"].items():
        compared += 1
        if pm_scale["old_roots"].get(old) == root:
            equal += 1
        else:
            problems.append(f"root at size {old} differs from pymerkle's")
    return {"compared": compared, "equal": equal, "problems": problems}


def footnotes(config: Config, figures: dict[str, BackendFigures], pm: dict[str, Any]) -> str:
    """What each figure means and how it was taken."""
    large = config.sizes[-1]
    pg_store = figures["postgres"].scales[large].storage
    primes = ", ".join(
        f"{power(int(scale['size']))}: {scale['sqlite_proofs']['prime_seconds']:,.1f} s"
        for scale in pm["scales"]
    )
    return "\n".join(
        [
            "[a] ours: shared.audit.events.append in committed transactions (shared.db."
            f"transaction) from 1 or {WRITERS} asyncio tasks, {config.append_seconds:g} s per "
            "cell. pymerkle: one caller (each tree serialises calls under one lock); SqliteTree "
            "commits every append_entry / append_entries call with its defaults (rollback "
            "journal, synchronous=FULL; ours: WAL, synchronous=NORMAL).",
            "[b] ours: asyncpg COPY / sqlite3 executemany of event rows built exactly as append "
            "builds them (canonical JSON, salt, commitment); pymerkle: append_entries(10,000).",
            "[c] ours: shared.audit.sequencer.drain (steps of 2,000 events, a signed checkpoint "
            "per step) in a child process. pymerkle has no separate integration; its cells are "
            "append_entries over the same entries (SqliteTree stores leaf hashes only and "
            "computes interior nodes at proof time; InmemoryTree links every node in RAM).",
            "[d] ours: service.inclusion_proof / consistency_proof on a LogReader per proof, as "
            "the read API serves them (no ORM session, no transaction); the reference row: "
            "the path before 2026-12-06 (an ORM session and transaction per proof, "
            "loadtests/audit_cold_proofs.py). Random indexes (fixed seed), "
            f"{config.proof_seconds:g} s per cell. no tile cache: TileCache(max_tiles=0); "
            "cold-ish: a fresh TileCache at the start of the run; warm: every full tile "
            "preloaded (partial right-edge tiles and the tree state are read every time). "
            f"{READERS} concurrent clients: asyncio tasks sharing the warm cache. pymerkle: "
            "cache_clear() then a run (cold-ish); warm: its subroot cache primed by proving "
            f"one leaf per 128 ({primes}). PostgreSQL was VACUUM ANALYZEd after integrating "
            f"({figures['postgres'].vacuum_seconds:,.1f} s), as autovacuum would, so that it "
            "does not run during the timed proofs.",
            f"[e] ours: {VERIFY_SAMPLE} inclusion + {VERIFY_SAMPLE} consistency proofs checked "
            "with shared.tlog.merkle.verify_inclusion / verify_consistency, entries compared "
            f"with the loaded commitments; {CROSS_SAMPLE} inclusion paths and {CROSS_SAMPLE} "
            "roots at random earlier sizes compared with pymerkle's (its path[1:]; its indexes "
            "count from 1). pymerkle: its own proofs with its own verifiers.",
            "[f] ours SQLite: database file + WAL after wal_checkpoint(TRUNCATE); PostgreSQL: "
            "pg_total_relation_size (heap, TOAST, indexes) of audit_events + audit_tiles + "
            f"audit_checkpoints; as written, right after integrating: {pg_store['dead_rows']:,} "
            "dead row versions left by the UPDATE of log_index (never HOT: log_index is "
            "indexed); pymerkle: its database file (entry + leaf hash per row, no event).",
            "[g] ours: peak RSS (VmHWM) of the sequencer child above its RSS just before "
            "draining, and in brackets its peak in all. pymerkle: InmemoryTree, RSS growth of "
            "its child while holding the tree; SqliteTree, its subroot cache after priming.",
        ]
    )


def breakdown_text(figures: dict[str, BackendFigures], size: int) -> str:
    """Where the time of a proof and of a sequencer step goes."""
    lines = [f"Where the time goes at {power(size)} entries (wall clock):"]
    for kind in BACKENDS:
        name = "PostgreSQL" if kind == "postgres" else "SQLite"
        for label, result in figures[kind].breakdown.items():
            rate: Rate = result["rate"]
            timers = result["timers"]
            per = 1e6 / rate.count

            def spent(timer: str, timers: dict[str, Any] = timers, per: float = per) -> float:
                return float(timers.get(timer, {"seconds": 0.0})["seconds"]) * per

            total = rate.seconds * per
            inside = spent("inclusion_proof")
            known = spent("read_tiles") + spent("__init__")
            lines.append(
                f"  {name} inclusion proof, {'no' if label == 'none' else 'warm'} tile cache: "
                f"{total:,.0f} us = read_tiles {spent('read_tiles'):,.0f} "
                f"({timers.get('read_tiles', {'calls': 0})['calls'] / rate.count:.1f} queries) "
                f"+ hashing tile interiors {spent('__init__'):,.0f} + other proof code "
                f"{inside - known:,.0f} + taking and returning the pooled connection "
                f"{total - inside:,.0f} us"
            )
        timers = figures[kind].scales[size].drain["timers"]
        steps = int(timers["step"]["calls"])

        def step_ms(timer: str, timers: dict[str, Any] = timers, steps: int = steps) -> float:
            return float(timers.get(timer, {"seconds": 0.0})["seconds"]) / steps * 1e3

        sql = ("load_state", "pending_events", "read_tiles", "write_tiles", "assign_indexes")
        python = step_ms("integrate") - sum(step_ms(timer) for timer in sql)
        parts = ", ".join(f"{timer} {step_ms(timer):,.1f}" for timer in sql)
        lines.append(
            f"  {name} sequencer, {steps} steps: {step_ms('step'):,.1f} ms per step = "
            f"integrate {step_ms('integrate'):,.1f} ({parts}, hashing and Python "
            f"{python:,.1f}) + checkpoint {step_ms('checkpoint'):,.1f} + lock, ORM flush and "
            f"COMMIT {step_ms('step') - step_ms('integrate') - step_ms('checkpoint'):,.1f} ms"
        )
    return "\n".join(lines)


def machine() -> str:
    """What ran the benchmark."""
    model = "unknown CPU"
    with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    import pymerkle

    return (
        f"machine: nproc {len(os.sched_getaffinity(0))}, {model}, {memory / 2**30:.1f} GiB RAM; "
        f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, "
        f"pymerkle {pymerkle.__version__}, PostgreSQL at {ours.PG_URL.split('@')[-1]}"
    )


async def postgres_version() -> str:
    """The server's version string."""
    connection = await ours.pg_connect()
    try:
        version: str = await connection.fetchval("SHOW server_version")
    finally:
        await connection.close()
    return version


def main() -> int:
    """Run every measurement and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10^4 and 10^5 entries, short runs")
    parser.add_argument("--profile", action="store_true", help="print cProfile listings too")
    parser.add_argument(
        "--cold-proofs",
        action="store_true",
        help="only cold inclusion proofs, today's path beside the previous one",
    )
    args = parser.parse_args()
    if args.cold_proofs:
        size = ["--size", str(10**5)] if args.quick else []
        return cold.main([*size, *(["--profile"] if args.profile else [])])
    config = QUICK if args.quick else FULL
    if args.profile:
        config = Config(**{**config.__dict__, "profile": True})
    started = time.perf_counter()
    load_at_start = os.getloadavg()[0]
    figures = {kind: BackendFigures() for kind in BACKENDS}
    profiles: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="kp_bench_") as temp:
        try:
            pg_version, pm = asyncio.run(measure_all(config, Path(temp), figures, profiles))
        except (KeyboardInterrupt, asyncio.CancelledError):
            log("interrupted; the databases it created are gone")
            return 130
        finally:
            if ours.LIVE_SCHEMAS:  # only if cleaning up inside the loop failed
                asyncio.run(ours.drop_leftover_schemas())
    table, problems = build_table(config, figures, pm)
    elapsed = time.perf_counter() - started
    print(f"Audit log benchmark ({'quick' if args.quick else 'full'} run, {elapsed:,.0f} s)")
    print(machine() + f" (server {pg_version})")
    load_at_end = os.getloadavg()[0]
    print(f"load average (1 min): {load_at_start:.2f} at the start, {load_at_end:.2f} at the end")
    print()
    print(table.render())
    print()
    print(footnotes(config, figures, pm))
    print()
    print(breakdown_text(figures, config.sizes[-1]))
    for title, listing in profiles.items():
        print(f"\ncProfile, {title} (by own time):\n{listing}")
    if problems:
        print("\nPROBLEMS:\n  " + "\n  ".join(problems))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
