"""Small helpers of the audit-log benchmark, standard library only.

Kept apart so that the pymerkle child process imports nothing else and its memory
figures are not inflated by SQLAlchemy and the drivers.
"""

import json
import random
import resource
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

SEED = 9162


@dataclass(frozen=True)
class Rate:
    """How many operations ran in how many seconds."""

    count: int
    seconds: float

    @property
    def per_second(self) -> float:
        """Operations per second (0 when nothing was timed)."""
        return self.count / self.seconds if self.seconds > 0 else 0.0


def time_loop(operation: Callable[[], object], seconds: float, *, max_count: int = 0) -> Rate:
    """Run `operation` until `seconds` have passed (at least once, at most max_count times)."""
    count = 0
    start = time.perf_counter()
    deadline = start + seconds
    while True:
        operation()
        count += 1
        now = time.perf_counter()
        if now >= deadline or count == max_count:
            return Rate(count, now - start)


async def time_loop_async(
    operation: Callable[[], Awaitable[object]], seconds: float, *, max_count: int = 0
) -> Rate:
    """The async twin of `time_loop`."""
    count = 0
    start = time.perf_counter()
    deadline = start + seconds
    while True:
        await operation()
        count += 1
        now = time.perf_counter()
        if now >= deadline or count == max_count:
            return Rate(count, now - start)


def index_stream(size: int, seed: int) -> Callable[[], int]:
    """Random leaf indexes below `size`, the same sequence for every tree of that size."""
    rng = random.Random(seed * 1_000_003 + size)
    return lambda: rng.randrange(size)


def old_size_stream(size: int, seed: int) -> Callable[[], int]:
    """Random earlier tree sizes in [1, size) for consistency proofs."""
    rng = random.Random(seed * 1_000_033 + size)
    return lambda: rng.randrange(1, size)


def sample(stream: Callable[[], int], count: int) -> list[int]:
    """The first `count` values of a stream."""
    return [stream() for _ in range(count)]


def current_rss() -> int:
    """Resident set size of this process now, in bytes (VmRSS)."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def peak_rss() -> int:
    """Peak resident set size of this process so far, in bytes (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def emit_result(result: dict[str, Any]) -> None:
    """A child process hands its figures to the parent as one JSON line on stdout."""
    sys.stdout.write("RESULT " + json.dumps(result) + "\n")
    sys.stdout.flush()


def parse_result(stdout: str) -> dict[str, Any]:
    """The figures a child printed with `emit_result`."""
    for line in reversed(stdout.splitlines()):
        if line.startswith("RESULT "):
            parsed: dict[str, Any] = json.loads(line.removeprefix("RESULT "))
            return parsed
    raise RuntimeError("the child process printed no result")
