"""The witness's memory: the latest checkpoint it cosigned per log, in its own SQLite file.

The stdlib's sqlite3, run in a worker thread: the witness must not depend on Ketenpas's
databases or drivers, and one small file is what an outside body can keep and back up.
The check of the old size and the write of the new checkpoint are one compare-and-swap
statement in one transaction (C2SP tlog-witness asks for that atomicity): of two
submissions from the same old size, one updates the row and the other finds it changed,
whichever process or thread they run in. SQLite's full synchronous mode makes the commit
durable before the cosignature leaves.
"""

import asyncio
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS checkpoints (
    origin TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    root_hash BLOB NOT NULL,
    note TEXT NOT NULL,
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS refusals (
    id INTEGER PRIMARY KEY,
    origin TEXT NOT NULL,
    status INTEGER NOT NULL,
    reason TEXT NOT NULL,
    request TEXT NOT NULL,
    at REAL NOT NULL
);
"""


@dataclass(frozen=True, slots=True)
class Held:
    """The checkpoint the witness holds for one log."""

    size: int
    root_hash: bytes
    note: str


class Storage:
    """One SQLite file, one connection used by one worker thread at a time.

    One connection, not one per call: opening it (and setting its pragmas) cost more than
    the fsync of the write itself, measured with loadtests/bench_witness.py. Other
    processes on the same file are kept apart by SQLite's locks and the compare-and-swap.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._connection: sqlite3.Connection | None = None

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            if self._connection is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                connection = sqlite3.connect(
                    self.path, timeout=30, isolation_level=None, check_same_thread=False
                )
                connection.execute("PRAGMA journal_mode=WAL")
                connection.execute("PRAGMA synchronous=FULL")
                self._connection = connection
            yield self._connection

    def create(self) -> None:
        """Create the file and its tables if they are not there."""
        with self._connect() as connection:
            connection.executescript(_SCHEMA)

    def close(self) -> None:
        """Close the connection (it is opened again when needed)."""
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None

    def _held(self, origin: str) -> Held | None:
        with self._connect() as connection:
            row = connection.execute(
                "SELECT size, root_hash, note FROM checkpoints WHERE origin = ?", (origin,)
            ).fetchone()
        return None if row is None else Held(int(row[0]), bytes(row[1]), str(row[2]))

    async def held(self, origin: str) -> Held | None:
        """The latest checkpoint cosigned for `origin`, if any."""
        return await asyncio.to_thread(self._held, origin)

    def _replace(self, origin: str, expected: Held | None, new: Held) -> bool:
        with self._connect() as connection:
            connection.execute("BEGIN IMMEDIATE")
            try:
                if expected is None:
                    cursor = connection.execute(
                        "INSERT INTO checkpoints (origin, size, root_hash, note, updated_at)"
                        " VALUES (?, ?, ?, ?, ?) ON CONFLICT (origin) DO NOTHING",
                        (origin, new.size, new.root_hash, new.note, time.time()),
                    )
                else:
                    cursor = connection.execute(
                        "UPDATE checkpoints SET size = ?, root_hash = ?, note = ?, updated_at = ?"
                        " WHERE origin = ? AND size = ? AND root_hash = ?",
                        (
                            new.size,
                            new.root_hash,
                            new.note,
                            time.time(),
                            origin,
                            expected.size,
                            expected.root_hash,
                        ),
                    )
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            won = cursor.rowcount == 1
            connection.execute("COMMIT" if won else "ROLLBACK")
            return won

    async def replace(self, origin: str, expected: Held | None, new: Held) -> bool:
        """Store `new` if the log's row is still `expected` (None: no row); whether it was."""
        return await asyncio.to_thread(self._replace, origin, expected, new)

    def _refused(self, origin: str, status: int, reason: str, request: str) -> None:
        with self._connect() as connection:
            connection.execute(
                "INSERT INTO refusals (origin, status, reason, request, at) VALUES (?, ?, ?, ?, ?)",
                (origin, status, reason, request, time.time()),
            )

    async def record_refusal(self, origin: str, status: int, reason: str, request: str) -> None:
        """Keep a correctly signed request that was refused: it may prove the log misbehaved."""
        await asyncio.to_thread(self._refused, origin, status, reason, request)

    def _refusals(self) -> list[tuple[str, int, str]]:
        with self._connect() as connection:
            rows = connection.execute(
                "SELECT origin, status, reason FROM refusals ORDER BY id"
            ).fetchall()
        return [(str(o), int(s), str(r)) for o, s, r in rows]

    async def refusals(self) -> list[tuple[str, int, str]]:
        """(origin, status, reason) of every recorded refusal, oldest first."""
        return await asyncio.to_thread(self._refusals)
