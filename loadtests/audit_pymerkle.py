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

import gc
import hashlib
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pymerkle import InmemoryTree, SqliteTree, verify_consistency, verify_inclusion

from loadtests.audit_common import (
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
        with SqliteTree(str(workdir / f"append_{name}.db"), ALGORITHM) as sqlite_tree:
            rate = _append_rate(sqlite_tree, batch, next_entries, seconds)
        results[f"sqlite_{name}"] = rate_dict(rate)
        rate = _append_rate(InmemoryTree(ALGORITHM), batch, next_entries, seconds)
        results[f"inmemory_{name}"] = rate_dict(rate)
    return results


def _append_rate(
    tree: Any, batch: int, next_entries: Callable[[int], list[bytes]], seconds: float
) -> Rate:
    """Entries per second through append_entry (batch 1) or append_entries (batch > 1)."""

    def one() -> object:
        return tree.append_entry(next_entries(1)[0])

    def many() -> object:
        return tree.append_entries(next_entries(batch))

    rate = time_loop(one if batch == 1 else many, seconds)
    return Rate(rate.count * batch, rate.seconds)


def proof_runs(
    tree: Any, size: int, seconds: float, seed: int, *, with_cache: bool
) -> dict[str, Any]:
    """Proofs per second from a cleared cache (cold-ish) and, if it has one, a primed cache."""
    results: dict[str, Any] = {}
    streams = {"inclusion": index_stream(size, seed), "consistency": old_size_stream(size, seed)}

    def prove_inclusion() -> object:
        return tree.prove_inclusion(streams["inclusion"]() + 1, size)

    def prove_consistency() -> object:
        return tree.prove_consistency(streams["consistency"](), size)

    provers = {"inclusion": prove_inclusion, "consistency": prove_consistency}
    for kind, prove in provers.items():
        tree.cache_clear()
        results[f"{kind}_cold"] = rate_dict(time_loop(prove, seconds))
    if not with_cache:
        return results
    # Warm: every subroot a proof can ask for (perfect subtrees of 128 leaves and more, the
    # cache's threshold) computed once, by proving one leaf in every run of 128.
    tree.cache_clear()
    start = time.perf_counter()
    for index in range(0, size, 128):
        tree.prove_inclusion(index + 1, size)
    results["prime_seconds"] = time.perf_counter() - start
    for kind, prove in provers.items():
        results[f"{kind}_warm"] = rate_dict(time_loop(prove, seconds))
    info = tree.get_cache_info()
    results["cache"] = {"bytes": info.size, "hits": info.hits, "misses": info.misses}
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
    result: dict[str, Any] = {"scales": []}
    # The trees come first, so that their memory is measured before anything else ran.
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
    del memory_tree
    gc.collect()
    result["appends"] = measure_appends(entries, workdir, float(config["append_seconds"]))
    return result


def main() -> None:
    """Entry point of the child process."""
    config = json.loads(Path(sys.argv[1]).read_text())
    emit_result(run(config))


if __name__ == "__main__":
    main()
