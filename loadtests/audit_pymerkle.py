"""The pymerkle side of the audit-log benchmark, run in a child process of its own.

`python -m loadtests.audit_pymerkle CONFIG.json` reads the same 32-byte entries our log
holds (the event commitments), builds pymerkle's SqliteTree (on disk) and InmemoryTree
over them, times appends and proofs, and prints its figures as one JSON line.

pymerkle is configured to hash as RFC 9162 does: `algorithm="sha256"` and the default
`disable_security=False`, which prefixes 0x00 to leaves and 0x01 to interior nodes; the
tree shape (largest power of two on the left) is the RFC's. Its indexes count from one.
A child process keeps its resident memory apart from SQLAlchemy, the drivers and our
own tree, so the memory figures compare like with like.
"""

import hashlib
import json
import sys
import time
from pathlib import Path
from typing import Any

from pymerkle import InmemoryTree, SqliteTree, verify_consistency, verify_inclusion

from loadtests.bench_common import (
    Rate,
    current_rss,
    emit_result,
    index_stream,
    old_size_stream,
    peak_rss,
    sample,
    time_loop,
)

ALGORITHM = "sha256"
VERIFY_SAMPLE = 50


def rfc_leaf_hash(entry: bytes) -> bytes:
    """SHA-256(0x00 || entry), the RFC 9162 leaf hash."""
    return hashlib.sha256(b"\x00" + entry).digest()


def rate_dict(rate: Rate) -> dict[str, float]:
    """A rate as JSON."""
    return {"count": rate.count, "seconds": rate.seconds}


def load_entries(path: Path) -> list[bytes]:
    """The entries, in log order, from a file of concatenated 32-byte commitments."""
    data = path.read_bytes()
    return [data[i : i + 32] for i in range(0, len(data), 32)]


def measure_appends(entries: list[bytes], workdir: Path, seconds: float) -> dict[str, Any]:
    """Appends per second, one by one and in batches, on fresh trees."""
    results: dict[str, Any] = {}
    position = 0

    def next_entries(count: int) -> list[bytes]:
        nonlocal position
        chunk = entries[position : position + count]
        position = (position + count) % max(1, len(entries) - count)
        return chunk

    for name, batch in (("one", 1), ("batch100", 100), ("batch10000", 10_000)):
        with SqliteTree(str(workdir / f"append_{name}.db"), ALGORITHM) as tree:
            if batch == 1:
                rate = time_loop(lambda t=tree: t.append_entry(next_entries(1)[0]), seconds)
            else:
                rate = time_loop(lambda t=tree, b=batch: t.append_entries(next_entries(b)), seconds)
            results[f"sqlite_{name}"] = rate_dict(Rate(rate.count * batch, rate.seconds))
        memory_tree = InmemoryTree(ALGORITHM)
        if batch == 1:
            rate = time_loop(lambda t=memory_tree: t.append_entry(next_entries(1)[0]), seconds)
        else:
            rate = time_loop(
                lambda t=memory_tree, b=batch: t.append_entries(next_entries(b)), seconds
            )
        results[f"inmemory_{name}"] = rate_dict(Rate(rate.count * batch, rate.seconds))
    return results


def proof_runs(
    tree: Any, size: int, seconds: float, seed: int, *, with_cache: bool
) -> dict[str, Any]:
    """Inclusion and consistency proofs per second, from a cleared cache and then warm."""
    results: dict[str, Any] = {}
    for kind in ("inclusion", "consistency"):
        stream = index_stream(size, seed) if kind == "inclusion" else old_size_stream(size, seed)

        def prove(kind: str = kind, stream: Any = stream) -> object:
            if kind == "inclusion":
                return tree.prove_inclusion(stream() + 1, size)
            return tree.prove_consistency(stream(), size)

        tree.cache_clear()
        results[f"{kind}_cold"] = rate_dict(time_loop(prove, seconds))
        if with_cache:
            results[f"{kind}_warm"] = rate_dict(time_loop(prove, seconds))
        info = tree.get_cache_info()
        results[f"{kind}_cache"] = {"bytes": info.size, "hits": info.hits, "misses": info.misses}
    return results


def verify_sample(tree: Any, entries: list[bytes], size: int, seed: int) -> int:
    """Check a sample of pymerkle's own proofs with pymerkle's verifiers."""
    root = tree.get_root(size)
    checked = 0
    for index in sample(index_stream(size, seed + 1), VERIFY_SAMPLE):
        proof = tree.prove_inclusion(index + 1, size)
        verify_inclusion(rfc_leaf_hash(entries[index]), root, proof, index + 1, size)
        checked += 1
    for old in sample(old_size_stream(size, seed + 1), VERIFY_SAMPLE):
        proof = tree.prove_consistency(old, size)
        verify_consistency(tree.get_root(old), root, proof, old, size)
        checked += 1
    return checked


def run(config: dict[str, Any]) -> dict[str, Any]:
    """Every pymerkle figure of the benchmark."""
    workdir = Path(config["workdir"])
    seed = int(config["seed"])
    seconds = float(config["seconds"])
    entries = load_entries(Path(config["entries"]))
    result: dict[str, Any] = {
        "appends": measure_appends(entries, workdir, float(config["append_seconds"])),
        "scales": [],
    }
    baseline = current_rss()
    memory_tree = InmemoryTree(ALGORITHM)
    sqlite_path = workdir / "pymerkle_sqlite_tree.db"
    sqlite_tree = SqliteTree(str(sqlite_path), ALGORITHM)
    done = 0
    try:
        for size in config["sizes"]:
            scale: dict[str, Any] = {"size": size}
            new_entries = entries[done:size]
            start = time.perf_counter()
            memory_tree.append_entries(new_entries)
            scale["inmemory_build"] = rate_dict(Rate(size - done, time.perf_counter() - start))
            scale["inmemory_rss_growth"] = current_rss() - baseline
            start = time.perf_counter()
            sqlite_tree.append_entries(new_entries)
            scale["sqlite_build"] = rate_dict(Rate(size - done, time.perf_counter() - start))
            del new_entries
            done = size
            scale["roots"] = {
                "sqlite": sqlite_tree.get_root().hex(),
                "inmemory": memory_tree.get_root().hex(),
            }
            scale["paths"] = {
                str(index): [h.hex() for h in memory_tree.prove_inclusion(index + 1).path[1:]]
                for index in sample(index_stream(size, seed + 2), int(config["samples"]))
            }
            scale["old_roots"] = {
                str(old): memory_tree.get_root(old).hex()
                for old in sample(old_size_stream(size, seed + 2), int(config["samples"]))
            }
            scale["sqlite_proofs"] = proof_runs(sqlite_tree, size, seconds, seed, with_cache=True)
            scale["inmemory_proofs"] = proof_runs(
                memory_tree, size, seconds, seed, with_cache=False
            )
            scale["verified"] = verify_sample(sqlite_tree, entries, size, seed) + verify_sample(
                memory_tree, entries, size, seed
            )
            scale["sqlite_file_bytes"] = sum(
                p.stat().st_size for p in workdir.glob(sqlite_path.name + "*")
            )
            scale["rss_now"] = current_rss()
            result["scales"].append(scale)
    finally:
        sqlite_tree.close()
    result["baseline_rss"] = baseline
    result["peak_rss"] = peak_rss()
    return result


def main() -> None:
    """Entry point of the child process."""
    config = json.loads(Path(sys.argv[1]).read_text())
    emit_result(run(config))


if __name__ == "__main__":
    main()
