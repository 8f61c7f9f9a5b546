"""Small helpers of the audit-log benchmark, standard library only.

Kept apart so that the pymerkle child process imports nothing else and its memory
figures are not inflated by SQLAlchemy and the drivers.
"""

import asyncio
import json
import random
import resource
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
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
    """Peak resident set size of this process so far, in bytes (VmHWM).

    Not getrusage's ru_maxrss: Linux carries the parent's high-water mark across the
    fork and exec of a child, so a child started by a big parent would report the
    parent's peak as its own.
    """
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
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


class Timers:
    """Wall-clock time spent inside chosen functions, by monkeypatching them for a while."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.calls: dict[str, int] = {}
        self._undo: list[Callable[[], None]] = []

    def _record(self, name: str, elapsed: float) -> None:
        self.seconds[name] = self.seconds.get(name, 0.0) + elapsed
        self.calls[name] = self.calls.get(name, 0) + 1

    def wrap_async(self, owner: Any, attribute: str, name: str | None = None) -> None:
        """Time every await of owner.attribute (a coroutine function)."""
        original = getattr(owner, attribute)
        label = name or attribute

        async def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return await original(*args, **kwargs)
            finally:
                self._record(label, time.perf_counter() - start)

        setattr(owner, attribute, timed)
        self._undo.append(lambda: setattr(owner, attribute, original))

    def wrap_sync(self, owner: Any, attribute: str, name: str | None = None) -> None:
        """Time every call of owner.attribute."""
        original = getattr(owner, attribute)
        label = name or attribute

        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self._record(label, time.perf_counter() - start)

        setattr(owner, attribute, timed)
        self._undo.append(lambda: setattr(owner, attribute, original))

    def restore(self) -> None:
        """Put every wrapped function back."""
        while self._undo:
            self._undo.pop()()

    def as_dict(self) -> dict[str, dict[str, float]]:
        """Seconds and calls per timed function."""
        return {
            name: {"seconds": seconds, "calls": self.calls[name]}
            for name, seconds in self.seconds.items()
        }


async def run_child(
    module: str, argument: str, *, cwd: Path, limit_seconds: float
) -> dict[str, Any]:
    """Run `python -m module argument` and return what it emitted; killed if cancelled."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        module,
        argument,
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), limit_seconds)
    except BaseException:
        process.kill()
        await process.wait()
        raise
    if process.returncode != 0:
        raise RuntimeError(f"{module} failed:\n{stderr.decode()[-4000:]}")
    return parse_result(stdout.decode())
