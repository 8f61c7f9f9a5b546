"""Cold inclusion proofs (no tile cache): the read API's path beside the one before it.

Run: `.venv/bin/python -m loadtests.audit_cold_proofs [--size N] [--seconds S] [--profile]`
(also `python -m loadtests.bench_audit_log --cold-proofs`). About a minute at 10^6 entries.

A tree of `--size` random entries (10^6 by default) is written as C2SP tiles into a migrated
release database on each backend (a temporary SQLite file, a PostgreSQL schema of its own
that is dropped at the end), with `repository.write_tiles` and `save_state` as the sequencer
writes them. No events are stored: a proof reads none, and building 10^6 of them through
the sequencer takes minutes of both cores. The root is computed apart from the tiles
(`CompactRange`, as the sequencer does) and a sample of proofs of every path is verified
against it.

The paths are timed in alternating batches of the same random indexes, so that all see the
same load on a shared machine:

- `before`: the path as it was up to 2026-12-06, kept here as the reference (the production
  code no longer has it): an ORM session and transaction per proof (as `ReadSessionDep`),
  the pool's pre-ping, the tree size through `session.get`, the tiles through an ORM
  `select` (`repository.read_tiles` given a session, which still reads them so), the COMMIT
  at the end. `before_with_root`: the endpoint as it was, that proof
  and then `root_at` in the same session (a second read).
- `now`: `shared.audit.service.inclusion_proof` on a `LogReader` (a connection of the log's
  own pool, one driver statement, no ORM session, no BEGIN/COMMIT); `now_with_root`:
  `inclusion_proof_and_root`, what the endpoint calls now (one statement for both).
"""

import argparse
import asyncio
import cProfile
import os
import random
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlmodel.ext.asyncio.session import AsyncSession

from loadtests import audit_backends as ours
from loadtests.audit_backends import Backend
from loadtests.audit_common import SEED, index_stream, sample
from loadtests.harness import log
from shared.audit import repository as repo
from shared.audit import service
from shared.audit.models import AuditTreeState
from shared.audit.service import AuditLog
from shared.audit.tilecache import HASH, Tile, TileCache, TileKey
from shared.db import transaction
from shared.tlog import merkle, tiles
from shared.tlog.merkle import CompactRange, Node

BACKENDS = ("sqlite", "postgres")
VERIFY_SAMPLE = 200
BATCH = 50


# --- the tree ----------------------------------------------------------------------------


def random_leaves(size: int, seed: int) -> bytes:
    """The leaf hashes of `size` random 32-byte entries, concatenated."""
    rng = random.Random(seed * 31 + size)
    entries = rng.randbytes(size * HASH)
    return b"".join(merkle.leaf_hash(entries[i : i + HASH]) for i in range(0, len(entries), HASH))


def tree_tiles(leaves: bytes) -> dict[TileKey, bytes]:
    """Every tile of the tree over these leaf hashes, full and partial, as the spec cuts them."""
    out: dict[TileKey, bytes] = {}
    level, hashes = 0, leaves
    span = tiles.TILE_WIDTH * HASH
    while hashes:
        uppers: list[bytes] = []
        for index, start in enumerate(range(0, len(hashes), span)):
            data = hashes[start : start + span]
            out[(level, index)] = data
            if len(data) == span:
                uppers.append(Tile(data).levels[tiles.TILE_HEIGHT])
        level, hashes = level + 1, b"".join(uppers)
    return out


def tree_root(leaves: bytes) -> bytes:
    """The root, computed apart from the tiles (the sequencer's compact range)."""
    edge = CompactRange.empty()
    for start in range(0, len(leaves), HASH):
        edge.append(leaves[start : start + HASH])
    return edge.root()


async def store_tree(backend: Backend, leaves: bytes, root: bytes) -> None:
    """Write the tiles and the tree state as the sequencer leaves them."""
    items = list(tree_tiles(leaves).items())
    for start in range(0, len(items), 500):
        async with transaction(backend.sessions) as session:
            await repo.write_tiles(session, dict(items[start : start + 500]))
    async with transaction(backend.sessions) as session:
        await repo.save_state(session, len(leaves) // HASH, root)


# --- the reference: the proof path before 2026-12-06 ---------------------------------------


async def _before_read_nodes(
    session: AsyncSession, nodes: Sequence[Node], cache: TileCache
) -> list[bytes]:
    spans = [tiles.tile_nodes_for(node) for node in nodes]
    needed: dict[TileKey, int] = {}
    for level, index, first, count in spans:
        needed[(level, index)] = max(needed.get((level, index), 0), first + count)
    found: dict[TileKey, Tile] = {}
    missing: list[TileKey] = []
    for key, width in needed.items():
        cached = cache.get(key, width)
        if cached is None:
            missing.append(key)
        else:
            found[key] = cached
    if missing:
        for key, data in (await repo.read_tiles(session, missing)).items():
            found[key] = cache.put(key, data)
    hashes: list[bytes] = []
    for node, (level, index, first, count) in zip(nodes, spans, strict=True):
        tile = found.get((level, index))
        height = count.bit_length() - 1
        node_hash = tile.node(height, first >> height) if tile is not None else None
        if node_hash is None:
            raise LookupError(f"tile {level}/{index} does not hold node {node}")
        hashes.append(node_hash)
    return hashes


async def before_inclusion_proof(
    session: AsyncSession, log: AuditLog, *, index: int, size: int
) -> list[bytes]:
    """The inclusion proof as `service.inclusion_proof` computed it before 2026-12-06."""
    if not 0 <= index < size:
        raise ValueError("index must satisfy 0 <= index < size")
    if size > log.known_size:
        state = await session.get(AuditTreeState, 1)
        log.known_size = max(log.known_size, state.size if state is not None else 0)
        if size > log.known_size:
            raise ValueError(f"the log holds {log.known_size} entries, not {size}")
    plan = merkle.inclusion_proof_plan(index, size)
    return await merkle.build_proof(
        plan, lambda nodes: _before_read_nodes(session, nodes, log.cache)
    )


# --- the operations ------------------------------------------------------------------------

Prove = Callable[[int], Awaitable[object]]
OPERATIONS = ("before", "now", "before_with_root", "now_with_root")


def before_proof(backend: Backend, log: AuditLog, size: int) -> Prove:
    """One proof as a request served it before 2026-12-06: its own ORM session and transaction."""
    read_sessions = backend.read_sessions

    async def prove(index: int) -> list[bytes]:
        async with read_sessions() as session, session.begin():
            return await before_inclusion_proof(session, log, index=index, size=size)

    return prove


def operations(backend: Backend, size: int) -> dict[str, Prove]:
    """The proof alone and the proof with the root (what the endpoint answers), both paths.

    Each with a log of its own and no tile cache. `before_with_root` is the endpoint as it
    was: `inclusion_proof` then `root_at`, two reads in one session; `now_with_root` is
    `inclusion_proof_and_root`, one read, on the backend's `LogReads` as a service has it.
    """
    read_sessions = backend.read_sessions
    reads = backend.reads
    logs = {name: ours.audit_log(TileCache(max_tiles=0)) for name in OPERATIONS}

    async def before_with_root(index: int) -> tuple[list[bytes], bytes]:
        log = logs["before_with_root"]
        async with read_sessions() as session, session.begin():
            proof = await before_inclusion_proof(session, log, index=index, size=size)
            nodes = merkle.range_nodes(0, size)
            root = merkle.fold(await _before_read_nodes(session, nodes, log.cache))
            return proof, root

    async def now(index: int) -> list[bytes]:
        async with reads.reader() as reader:
            return await service.inclusion_proof(reader, logs["now"], index=index, size=size)

    async def now_with_root(index: int) -> tuple[list[bytes], bytes]:
        async with reads.reader() as reader:
            return await service.inclusion_proof_and_root(
                reader, logs["now_with_root"], index=index, size=size
            )

    return {
        "before": before_proof(backend, logs["before"], size),
        "now": now,
        "before_with_root": before_with_root,
        "now_with_root": now_with_root,
    }


async def alternating_rates(
    operations: dict[str, Prove], indexes: Callable[[], int], seconds: float
) -> tuple[dict[str, float], dict[str, float], int]:
    """Proofs per second of each, and this process's CPU ms per proof, timed in alternating
    batches over about `seconds` (CPU time does not count the waits for a busy machine)."""
    spent = dict.fromkeys(operations, 0.0)
    cpu = dict.fromkeys(operations, 0.0)
    count = 0
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        batch = [indexes() for _ in range(BATCH)]
        for name, operation in operations.items():
            start, start_cpu = time.perf_counter(), time.process_time()
            for index in batch:
                await operation(index)
            spent[name] += time.perf_counter() - start
            cpu[name] += time.process_time() - start_cpu
        count += BATCH
    rates = {name: count / seconds for name, seconds in spent.items()}
    return rates, {name: 1e3 * used / count for name, used in cpu.items()}, count


@dataclass
class Figures:
    """One backend's side-by-side rates."""

    rates: dict[str, float]
    cpu_ms: dict[str, float]
    proofs: int
    verified: int
    failures: list[str]


async def verify_all(
    operations: dict[str, Prove], leaves: bytes, root: bytes, size: int
) -> tuple[int, list[str]]:
    """Check a sample of proofs of every operation against the independently computed root."""
    failures: list[str] = []
    indexes = sample(index_stream(size, SEED + 5), VERIFY_SAMPLE // 4)
    indexes += [0, size - 1, size // 2]
    checked = 0
    for index in indexes:
        leaf = leaves[index * HASH : (index + 1) * HASH]
        for name, operation in operations.items():
            answer = await operation(index)
            if isinstance(answer, tuple):
                proof, at_size = answer
                if at_size != root:
                    failures.append(f"{name}: the root at {size} is not the tree's root")
            else:
                proof = answer
            if not isinstance(proof, list) or not merkle.verify_inclusion(
                leaf, index, size, proof, root
            ):
                failures.append(f"{name}: inclusion proof of {index} does not verify")
            checked += 1
    return checked, failures


async def measure_backend(
    kind: str, workdir: Path, leaves: bytes, root: bytes, seconds: float, profile: bool
) -> Figures:
    """Store the tree, check every path, time them side by side."""
    size = len(leaves) // HASH
    async with ours.open_backend(kind, workdir, "cold") as backend:
        log(f"{backend.name}: writing the tiles of {size:,} entries")
        await store_tree(backend, leaves, root)
        if kind == "postgres":
            await ours.vacuum_analyze(backend)
        timed = operations(backend, size)
        verified, failures = await verify_all(timed, leaves, root, size)
        log(f"{backend.name}: {seconds:g} s of cold proofs, alternating the paths")
        rates, cpu_ms, proofs = await alternating_rates(timed, index_stream(size, SEED), seconds)
        if profile:
            for label in ("before", "now"):
                profiler = cProfile.Profile()
                stream = index_stream(size, SEED + 9)
                profiler.enable()
                for _ in range(500):
                    await timed[label](stream())
                profiler.disable()
                print_profile(f"{backend.name}, {label}, 500 cold proofs", profiler)
        return Figures(rates, cpu_ms, proofs, verified, failures)


def print_profile(title: str, profiler: cProfile.Profile) -> None:
    """The top of a cProfile listing (cumulative and own time), to stdout."""
    import pstats

    print(f"\ncProfile, {title}:")
    stats = pstats.Stats(profiler, stream=sys.stdout).strip_dirs()
    stats.sort_stats("tottime").print_stats(25)


async def measure(
    size: int, seconds: float, backends: Sequence[str], profile: bool, workdir: Path
) -> dict[str, Figures]:
    """Both backends, one after the other; drops what it created, even on failure."""
    log(f"hashing {size:,} random entries and the root")
    leaves = random_leaves(size, SEED)
    root = tree_root(leaves)
    try:
        return {
            kind: await measure_backend(kind, workdir, leaves, root, seconds, profile)
            for kind in backends
        }
    finally:
        await ours.drop_leftover_schemas()


def render(size: int, seconds: float, figures: dict[str, Figures], load: float) -> str:
    """The side-by-side table."""
    names = {"sqlite": "SQLite", "postgres": "PostgreSQL"}

    def cell(f: Figures, name: str) -> str:
        rate = f.rates[name]
        return f"{rate:,.0f}/s ({1e3 / rate:.2f} ms; CPU {f.cpu_ms[name]:.2f} ms)"

    lines = [
        f"Cold inclusion proofs at {size:,} entries, no tile cache ({seconds:g} s per "
        f"backend, the paths alternating in batches of {BATCH} random indexes)",
        f"load average (1 min): {load:.2f} at the start, {os.getloadavg()[0]:.2f} at the end "
        f"({len(os.sched_getaffinity(0))} CPUs)",
        "",
        "| backend | what | before (reference) | now | now / before | target |",
        "|---|---|---|---|---|---|",
    ]
    for kind, f in figures.items():
        for what, suffix in (("proof", ""), ("proof + root (the endpoint)", "_with_root")):
            before, now = "before" + suffix, "now" + suffix
            lines.append(
                f"| {names[kind]} | {what} | {cell(f, before)} | {cell(f, now)} | "
                f"{f.rates[now] / f.rates[before]:.2f}x | >= 1,000/s |"
            )
    checks = ", ".join(
        f"{names[kind]} {f.verified - len(f.failures)}/{f.verified} ok"
        for kind, f in figures.items()
    )
    lines.append("")
    lines.append(f"proofs checked against the root computed apart from the tiles: {checks}")
    lines.append(
        "ms: wall clock per proof; CPU: this process's CPU time per proof (not PostgreSQL's)"
    )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Build the tree, measure, print the table; exit 1 if a proof failed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=10**6, help="entries in the tree")
    parser.add_argument("--seconds", type=float, default=4.0, help="timed seconds per backend")
    parser.add_argument("--backend", choices=(*BACKENDS, "both"), default="both")
    parser.add_argument("--profile", action="store_true", help="cProfile 500 proofs of each")
    args = parser.parse_args(argv)
    backends = BACKENDS if args.backend == "both" else (args.backend,)
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="kp_cold_") as temp:
        figures = asyncio.run(measure(args.size, args.seconds, backends, args.profile, Path(temp)))
    print(render(args.size, args.seconds, figures, load))
    problems = [f"{kind}: {p}" for kind, f in figures.items() for p in f.failures]
    if problems:
        print("\nPROBLEMS:\n  " + "\n  ".join(problems))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
