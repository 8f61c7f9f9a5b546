"""Our side of the audit-log benchmark: databases, bulk loading, storage, the sequencer child.

Each backend is a migrated database of the release service (its own temporary SQLite file,
or its own PostgreSQL schema `kp_bench_<random>_<label>` that is dropped at the end, even
on failure). Bulk-loaded events are built exactly as `shared.audit.events.append` builds
them (same fields, canonical JSON, salt and commitment); only the row insertion is bulk.

`python -m loadtests.audit_backends CONFIG.json` is the sequencer child: it integrates
everything pending with `shared.audit.sequencer.drain` and prints the rate, its memory and
where the time went, so that the memory of the sequencer is measured on its own.
"""

import asyncio
import json
import os
import random
import secrets
import sqlite3
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.ext.asyncio import AsyncEngine

from loadtests.audit_common import Timers, current_rss, emit_result, peak_rss, run_child
from shared.audit import repository as repo
from shared.audit import sequencer
from shared.audit.events import canonical_json, commitment
from shared.audit.models import AuditEvent
from shared.audit.repository import LogReads
from shared.audit.service import AuditLog
from shared.audit.tilecache import TileCache
from shared.db import SessionFactory, create_engine, read_only, session_factory, transaction

PG_URL = os.environ.get("KETENPAS_BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
ROOT = Path(__file__).resolve().parents[1]
MIGRATIONS = ROOT / "services" / "release" / "migrations"
ORIGIN = "bench.ketenpas.localhost/audit-log"
EVENT_TYPE = "bench.handover"
EVENT_COLUMNS = ("event_id", "created_at", "event_type", "event", "salt", "commitment")
BASE_TIME = datetime(2026, 1, 1, tzinfo=UTC)
# Spot-check the fast serialisation against RFC 8785 (`canonical_json`) this often.
CANONICAL_CHECK_EVERY = 997

EventRow = tuple[uuid.UUID, datetime, str, str, bytes, bytes]

# Schemas created by this process and not yet dropped: the last line of defence drops them.
LIVE_SCHEMAS: set[str] = set()


def log_key() -> Ed25519PrivateKey:
    """A fixed checkpoint key: the benchmark signs, nobody trusts it."""
    return Ed25519PrivateKey.from_private_bytes(bytes(range(32)))


def audit_log(cache: TileCache | None = None) -> AuditLog:
    """The benchmark's log, with the given tile cache (a fresh one by default)."""
    return AuditLog(
        origin=ORIGIN, private_key=log_key(), cache=cache if cache is not None else TileCache()
    )


def payload(number: int, rng: random.Random) -> dict[str, Any]:
    """The business part of one benchmark event (a handover in a release chain)."""
    return {
        "release_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "container": "MSCU1234565",
        "seq": number,
        "kind": "handover",
        "from": "party-a",
        "to": "party-b",
    }


def _fast_canonical(record: dict[str, Any]) -> bytes:
    # For ASCII strings without escapes and small integers, sorted compact JSON is RFC 8785.
    return json.dumps(record, sort_keys=True, separators=(",", ":")).encode()


def generate_events(start: int, count: int, seed: int) -> list[EventRow]:
    """Events number start .. start + count - 1, the same on every call with this seed."""
    rng = random.Random(seed * 7_919 + start)
    rows: list[EventRow] = []
    for number in range(start, start + count):
        event_id = uuid.UUID(int=rng.getrandbits(128), version=4)
        created_at = BASE_TIME + timedelta(microseconds=number)
        record = {
            **payload(number, rng),
            "id": str(event_id),
            "type": EVENT_TYPE,
            "at": created_at.isoformat(),
        }
        canonical = _fast_canonical(record)
        if number % CANONICAL_CHECK_EVERY == 0 and canonical != canonical_json(record):
            raise AssertionError("fast serialisation differs from RFC 8785 canonical JSON")
        salt = rng.randbytes(32)
        rows.append(
            (
                event_id,
                created_at,
                EVENT_TYPE,
                canonical.decode(),
                salt,
                commitment(salt, canonical),
            )
        )
    return rows


def event_chunks(start: int, stop: int, seed: int, chunk: int = 50_000) -> Iterator[list[EventRow]]:
    """Generate events [start, stop) in chunks (chunk boundaries are part of the seed)."""
    for first in range(start, stop, chunk):
        yield generate_events(first, min(chunk, stop - first), seed)


@dataclass
class Backend:
    """One migrated database of the release service."""

    kind: str
    url: str
    schema: str | None
    engine: AsyncEngine
    sessions: SessionFactory
    sqlite_path: Path | None
    reads: LogReads

    @property
    def read_sessions(self) -> SessionFactory:
        """Sessions for read-only work (deferred BEGIN on SQLite)."""
        return session_factory(read_only(self.engine))

    @property
    def name(self) -> str:
        """SQLite or PostgreSQL."""
        return "PostgreSQL" if self.kind == "postgres" else "SQLite"


async def pg_connect() -> asyncpg.Connection:
    """A plain asyncpg connection to the benchmark's PostgreSQL database."""
    return await asyncpg.connect(PG_URL, timeout=10)


async def drop_schema(schema: str) -> None:
    """DROP SCHEMA ... CASCADE."""
    connection = await pg_connect()
    try:
        await connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await connection.close()
    LIVE_SCHEMAS.discard(schema)


async def drop_leftover_schemas() -> None:
    """Drop every schema this process created and did not drop yet."""
    for schema in sorted(LIVE_SCHEMAS):
        await drop_schema(schema)


@asynccontextmanager
async def open_backend(kind: str, workdir: Path, label: str) -> AsyncIterator[Backend]:
    """A freshly migrated database, removed afterwards."""
    # Imported here: the sequencer child, which imports this module, needs no Alembic.
    from shared.migrate import upgrade_engine

    schema: str | None = None
    sqlite_path: Path | None = None
    if kind == "postgres":
        url = PG_URL
        schema = f"kp_bench_{secrets.token_hex(4)}_{label}"
        LIVE_SCHEMAS.add(schema)
    else:
        sqlite_path = workdir / f"{label}.sqlite3"
        url = f"sqlite:///{sqlite_path}"
    engine = create_engine(url, schema=schema)
    # The read API's connections, as a service makes them (a pool of their own on PostgreSQL).
    reads = LogReads(engine, schema)
    try:
        await upgrade_engine(engine, MIGRATIONS, schema=schema)
        yield Backend(kind, url, schema, engine, session_factory(engine), sqlite_path, reads)
    finally:
        await reads.close()
        await engine.dispose()
        if schema is not None:
            await drop_schema(schema)
        if sqlite_path is not None:
            for path in sqlite_path.parent.glob(sqlite_path.name + "*"):
                path.unlink()


async def bulk_load(backend: Backend, rows: list[EventRow]) -> None:
    """Insert event rows as the committed transactions of `append` would have left them."""
    if backend.kind == "postgres":
        connection = await pg_connect()
        try:
            await connection.copy_records_to_table(
                "audit_events", schema_name=backend.schema, columns=EVENT_COLUMNS, records=rows
            )
        finally:
            await connection.close()
        return
    # SQLite: the column types' own bind processors give the values SQLAlchemy would store.
    assert backend.sqlite_path is not None
    dialect = backend.engine.dialect
    table = AuditEvent.__table__  # type: ignore[attr-defined]
    processors = [
        table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in EVENT_COLUMNS
    ]
    converted = [
        tuple(p(v) if p else v for p, v in zip(processors, row, strict=True)) for row in rows
    ]
    placeholders = ", ".join("?" for _ in EVENT_COLUMNS)
    connection = sqlite3.connect(backend.sqlite_path, timeout=30)
    try:
        with connection:
            connection.executemany(
                f"INSERT INTO audit_events ({', '.join(EVENT_COLUMNS)}) VALUES ({placeholders})",
                converted,
            )
    finally:
        connection.close()


async def storage(backend: Backend, *, vacuum_full: bool = False) -> dict[str, Any]:
    """Bytes on disk of the audit tables, per table, and the bytes of the event JSON."""
    if backend.kind == "postgres":
        return await _pg_storage(backend, vacuum_full=vacuum_full)
    await backend.engine.dispose()  # no pooled connection keeps the WAL from being truncated
    assert backend.sqlite_path is not None
    connection = sqlite3.connect(backend.sqlite_path, timeout=30)
    try:
        busy, _, _ = connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        per_table = dict(
            connection.execute(
                "SELECT CASE WHEN name LIKE 'sqlite_autoindex_audit_events%' "
                "OR name LIKE 'ix_audit_events%' THEN 'audit_events' ELSE name END, "
                "SUM(pgsize) FROM dbstat GROUP BY 1"
            ).fetchall()
        )
        (json_bytes,) = connection.execute("SELECT SUM(LENGTH(event)) FROM audit_events").fetchone()
        (free_pages,) = connection.execute("PRAGMA freelist_count").fetchone()
        (page_size,) = connection.execute("PRAGMA page_size").fetchone()
    finally:
        connection.close()
    files = sum(
        p.stat().st_size for p in backend.sqlite_path.parent.glob(backend.sqlite_path.name + "*")
    )
    return {
        "total": files,
        "checkpointed": busy == 0,
        "tables": per_table,
        "free": free_pages * page_size,
        "event_json": int(json_bytes or 0),
    }


async def _pg_storage(backend: Backend, *, vacuum_full: bool) -> dict[str, Any]:
    connection = await pg_connect()
    try:
        schema = backend.schema
        if vacuum_full:
            for table in ("audit_events", "audit_tiles", "audit_checkpoints", "audit_tree"):
                await connection.execute(f'VACUUM FULL ANALYZE "{schema}"."{table}"')
        tables: dict[str, int] = {}
        for table in ("audit_events", "audit_tiles", "audit_checkpoints", "audit_tree"):
            tables[table] = await connection.fetchval(
                "SELECT pg_total_relation_size(format('%I.%I', $1::text, $2::text)::regclass)",
                schema,
                table,
            )
        json_bytes = await connection.fetchval(
            f'SELECT SUM(octet_length(event)) FROM "{schema}".audit_events'
        )
        dead = await connection.fetchval(
            "SELECT n_dead_tup FROM pg_stat_user_tables "
            "WHERE schemaname = $1 AND relname = 'audit_events'",
            schema,
        )
    finally:
        await connection.close()
    return {
        "total": tables["audit_events"] + tables["audit_tiles"] + tables["audit_checkpoints"],
        "tables": tables,
        "event_json": int(json_bytes or 0),
        "dead_rows": int(dead or 0),
    }


async def vacuum_analyze(backend: Backend) -> None:
    """VACUUM ANALYZE the audit tables (PostgreSQL)."""
    connection = await pg_connect()
    try:
        for table in ("audit_events", "audit_tiles", "audit_checkpoints", "audit_tree"):
            await connection.execute(f'VACUUM ANALYZE "{backend.schema}"."{table}"')
    finally:
        await connection.close()


async def run_drain_child(
    backend: Backend, *, limit_seconds: float, profile: Path | None = None
) -> dict[str, Any]:
    """Integrate everything pending in a child process; its rate, memory and time split.

    With `profile`, the child also runs under cProfile and dumps its statistics there.
    """
    config = {"url": backend.url, "schema": backend.schema, "profile": str(profile or "")}
    return await run_child(
        "loadtests.audit_backends", json.dumps(config), cwd=ROOT, limit_seconds=limit_seconds
    )


async def _drain_in_child(config: dict[str, Any]) -> dict[str, Any]:
    engine = create_engine(config["url"], schema=config["schema"])
    sessions = session_factory(engine)
    log = audit_log()
    try:
        async with transaction(sessions) as session:
            before, _ = await repo.load_state(session)
            pending = await repo.count_events(session) - before
        timers = Timers()
        for name in (
            "load_state",
            "pending_events",
            "read_nodes",
            "read_tiles",
            "write_tiles",
            "assign_indexes",
            "save_state",
            "latest_checkpoint",
            "add_checkpoint",
            "try_sequencer_lock",
        ):
            timers.wrap_async(repo, name)
        timers.wrap_async(sequencer, "integrate")
        timers.wrap_async(sequencer, "checkpoint")
        timers.wrap_async(sequencer, "step")
        timers.wrap_sync(sequencer, "sign_checkpoint")
        baseline = current_rss()
        profiler = None
        if config["profile"]:
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()
        start = time.perf_counter()
        size = await sequencer.drain(sessions, signer=log.signer, origin=log.origin)
        seconds = time.perf_counter() - start
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(config["profile"])
        timers.restore()
    finally:
        await engine.dispose()
    return {
        "before": before,
        "pending": pending,
        "size": size,
        "integrated": size - before,
        "seconds": seconds,
        "baseline_rss": baseline,
        "peak_rss": peak_rss(),
        "timers": timers.as_dict(),
    }


def main() -> None:
    """Entry point of the sequencer child."""
    config = json.loads(sys.argv[1])
    emit_result(asyncio.run(_drain_in_child(config)))


if __name__ == "__main__":
    main()
