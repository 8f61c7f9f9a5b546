"""Serving the audit log at scale: caching headers, ETags and 304s, and the read path.

Tiles and entry bundles that are full never change and are cached for a year; partial ones
and the checkpoint for a few seconds; all carry a strong ETag that `If-None-Match` answers
with 304. Proofs are read through a `LogReader` (one statement, no ORM session), and must
equal what the session path computes.
"""

import asyncio
import base64
import hashlib
import logging
import sqlite3

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.pool import QueuePool

from shared.audit import service
from shared.audit.endpoints import IMMUTABLE, SHORT_LIVED
from shared.audit.repository import (
    LOG_READ_POOL_OVERFLOW,
    LOG_READ_POOL_SIZE,
    LogReader,
    LogReads,
)
from shared.audit.service import AuditLog
from shared.audit.tilecache import TileCache
from shared.db import transaction
from shared.tlog import merkle, tiles
from tests.audit_helpers import append_events, integrate_all, parts, raw_sql

AppAndClient = tuple[FastAPI, httpx.AsyncClient]


def strong_etag_of(body: bytes) -> str:
    """The ETag the log promises: the body's SHA-256, 128 bits, quoted, not weak."""
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


async def grown_log(app: FastAPI, count: int) -> None:
    await append_events(parts(app)[0], count, per_transaction=100)
    await integrate_all(app)


@pytest.mark.parametrize(
    ("path", "cache_control"),
    [
        (tiles.tile_path(0, 0, 256), IMMUTABLE),
        (tiles.entries_path(0, 256), IMMUTABLE),
        (tiles.tile_path(0, 1, 44), SHORT_LIVED),
        (tiles.entries_path(1, 44), SHORT_LIVED),
        (tiles.tile_path(1, 0, 1), SHORT_LIVED),
    ],
)
async def test_tiles_and_bundles_carry_their_cache_lifetime_and_a_strong_etag(
    release_app: AppAndClient, path: str, cache_control: str
) -> None:
    app, client = release_app
    await grown_log(app, 300)
    response = await client.get("/log/" + path)
    assert response.status_code == 200
    assert response.headers["cache-control"] == cache_control
    assert response.headers["etag"] == strong_etag_of(response.content)


async def test_full_tiles_are_cached_for_a_year_and_partial_ones_for_seconds(
    release_app: AppAndClient,
) -> None:
    app, client = release_app
    await grown_log(app, 300)
    full = await client.get("/log/" + tiles.tile_path(0, 0, 256))
    partial = await client.get("/log/" + tiles.tile_path(0, 1, 44))
    assert full.headers["cache-control"] == "public, max-age=31536000, immutable"
    lifetime = partial.headers["cache-control"]
    assert "immutable" not in lifetime
    seconds = int(lifetime.split("max-age=")[1])
    assert 1 <= seconds <= 10


@pytest.mark.parametrize(
    "path", [tiles.tile_path(0, 0, 256), tiles.tile_path(0, 1, 44), tiles.entries_path(1, 44)]
)
async def test_if_none_match_with_the_current_etag_is_answered_304_without_a_body(
    release_app: AppAndClient, path: str
) -> None:
    app, client = release_app
    await grown_log(app, 300)
    first = await client.get("/log/" + path)
    etag = first.headers["etag"]
    for held in (etag, "W/" + etag, f'"other", {etag}', "*"):
        again = await client.get("/log/" + path, headers={"If-None-Match": held})
        assert again.status_code == 304, held
        assert again.content == b""
        assert again.headers["etag"] == etag
        assert again.headers["cache-control"] == first.headers["cache-control"]


async def test_a_stale_or_malformed_etag_gets_the_body(release_app: AppAndClient) -> None:
    app, client = release_app
    await grown_log(app, 300)
    path = "/log/" + tiles.tile_path(0, 0, 256)
    body = (await client.get(path)).content
    for held in ('"0123"', "", "garbage, ,,", '"' + "0" * 32 + '"', "W/"):
        response = await client.get(path, headers={"If-None-Match": held})
        assert response.status_code == 200, held
        assert response.content == body


async def test_the_checkpoint_is_short_lived_and_its_etag_changes_when_the_log_grows(
    release_app: AppAndClient,
) -> None:
    app, client = release_app
    await grown_log(app, 3)
    first = await client.get("/log/checkpoint")
    assert first.headers["cache-control"] == SHORT_LIVED
    assert first.headers["etag"] == strong_etag_of(first.content)
    held = {"If-None-Match": first.headers["etag"]}
    unchanged = await client.get("/log/checkpoint", headers=held)
    assert unchanged.status_code == 304
    assert unchanged.headers["cache-control"] == SHORT_LIVED

    await grown_log(app, 2)
    grown = await client.get("/log/checkpoint", headers=held)
    assert grown.status_code == 200
    assert grown.headers["etag"] != first.headers["etag"]
    assert grown.text.splitlines()[1] == "5"


async def test_a_missing_tile_is_not_cached_as_if_it_were_immutable(
    release_app: AppAndClient,
) -> None:
    app, client = release_app
    await grown_log(app, 10)
    response = await client.get("/log/" + tiles.tile_path(0, 0, 256))
    assert response.status_code == 404
    assert "immutable" not in response.headers.get("cache-control", "")
    assert "etag" not in response.headers


async def test_openapi_documents_the_304_its_if_none_match_and_both_headers(
    release_app: AppAndClient,
) -> None:
    _, client = release_app
    paths = (await client.get("/openapi.json")).json()["paths"]
    for route in ("/log/tile/{path}", "/log/checkpoint"):
        get = paths[route]["get"]
        assert "304" in get["responses"], route
        assert {"ETag", "Cache-Control"} <= set(get["responses"]["200"]["headers"]), route
        assert {"ETag", "Cache-Control"} <= set(get["responses"]["304"]["headers"]), route
        assert "If-None-Match" in get["responses"]["304"]["description"], route


# --- the read path ------------------------------------------------------------------------


def cold_log(app: FastAPI) -> AuditLog:
    """The app's log key and origin, with no tile cache: every read goes to the database."""
    log = parts(app)[1]
    return AuditLog(origin=log.origin, private_key=log.private_key, cache=TileCache(max_tiles=0))


async def test_reader_proofs_and_roots_equal_the_session_path_across_tile_boundaries(
    release_app: AppAndClient,
) -> None:
    app, _ = release_app
    await grown_log(app, 600)
    sessions, _ = parts(app)
    reads: LogReads = app.state.log_reads
    async with sessions() as session, reads.reader() as reader:
        for size in (1, 255, 256, 257, 300, 511, 512, 513, 600):
            for index in sorted({0, size // 2, size - 1, min(size - 1, 256)}):
                expected = await service.inclusion_proof(
                    session, cold_log(app), index=index, size=size
                )
                root = await service.root_at(session, cold_log(app), size)
                proof, at_size = await service.inclusion_proof_and_root(
                    reader, cold_log(app), index=index, size=size
                )
                assert (proof, at_size) == (expected, root), (index, size)
            for old in sorted({1, size // 3 or 1, size}):
                expected = await service.consistency_proof(
                    session, cold_log(app), old=old, new=size
                )
                old_root = await service.root_at(session, cold_log(app), old)
                assert await service.consistency_proof_and_roots(
                    reader, cold_log(app), old=old, new=size
                ) == (expected, old_root, root), (old, size)


async def test_a_cold_inclusion_proof_with_its_root_is_one_statement(
    release_app: AppAndClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, _ = release_app
    await grown_log(app, 600)
    statements: list[str] = []
    original = LogReader._run

    async def counted(self: LogReader, sql: str, params: object) -> object:
        statements.append(sql)
        return await original(self, sql, params)  # type: ignore[arg-type]

    monkeypatch.setattr(LogReader, "_run", counted)
    log = cold_log(app)
    reads: LogReads = app.state.log_reads
    async with reads.reader() as reader:
        await service.inclusion_proof_and_root(reader, log, index=300, size=600)
        assert len(statements) == 2  # the tree size, once, then the tiles
        statements.clear()
        await service.inclusion_proof_and_root(reader, log, index=5, size=600)
    assert len(statements) == 1
    assert "audit_tiles" in statements[0]


async def test_the_api_proof_verifies_with_no_tile_cache(release_app: AppAndClient) -> None:
    app, client = release_app
    await grown_log(app, 300)
    app.state.audit_log.cache = TileCache(max_tiles=0)
    leaves = [merkle.leaf_hash(e) for e in await _entries(app, 300)]
    root = merkle.root_from_leaf_hashes(leaves)
    for index in (0, 255, 256, 299):
        body = (
            await client.get("/v1/log/proofs/inclusion", params={"index": index, "size": 300})
        ).json()
        assert base64.b64decode(body["root_hash"]) == root
        proof = [base64.b64decode(h) for h in body["proof"]]
        assert merkle.verify_inclusion(leaves[index], index, 300, proof, root)


async def _entries(app: FastAPI, count: int) -> list[bytes]:
    reads: LogReads = app.state.log_reads
    async with reads.reader() as reader:
        return await reader.entries(0, count)


@pytest.mark.postgres
async def test_a_proof_is_served_after_the_server_closed_the_pooled_connection(
    release_app: AppAndClient,
) -> None:
    app, client = release_app
    await grown_log(app, 300)
    app.state.audit_log.cache = TileCache(max_tiles=0)
    params = {"index": 7, "size": 300}
    before = await client.get("/v1/log/proofs/inclusion", params=params)
    assert before.status_code == 200
    reads: LogReads = app.state.log_reads
    async with reads.engine.connect() as connection:  # the one connection the pool holds
        raw = await connection.get_raw_connection()
        assert raw.driver_connection is not None
        pid = await raw.driver_connection.fetchval("SELECT pg_backend_pid()")
    async with transaction(parts(app)[0]) as session:
        # As a restart or a fail-over would; the call waits until the backend is gone.
        assert await raw_sql(session, "SELECT pg_terminate_backend(:pid, 10000)", pid=pid) == [
            (True,)
        ]
    after = await client.get("/v1/log/proofs/inclusion", params=params)
    assert after.status_code == 200, after.text
    assert after.json() == before.json()


async def test_readers_past_the_pool_size_give_their_connections_back_cleanly(
    release_app: AppAndClient, caplog: pytest.LogCaptureFixture
) -> None:
    app, _ = release_app
    await grown_log(app, 3)
    reads: LogReads = app.state.log_reads
    together = LOG_READ_POOL_SIZE + LOG_READ_POOL_OVERFLOW
    all_in = asyncio.Event()
    holding: list[int] = []

    async def read() -> int:
        async with reads.reader() as reader:
            holding.append(1)
            if len(holding) == together:
                all_in.set()
            await all_in.wait()  # every connection of the pool and its overflow is out
            return await reader.tree_size()

    with caplog.at_level(logging.ERROR, logger="sqlalchemy.pool"):
        sizes = await asyncio.gather(*(read() for _ in range(together)))
    assert sizes == [3] * together
    # The pool closes the overflow's connections as they come back, with the driver's awaits.
    assert not [r for r in caplog.records if r.name.startswith("sqlalchemy.pool")]
    pool: QueuePool = reads.engine.pool  # type: ignore[assignment]
    assert pool.checkedout() == 0
    async with reads.reader() as reader:
        assert await reader.tree_size() == 3


@pytest.mark.parametrize(
    "error",
    [
        asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed"),
        sqlite3.OperationalError("database is locked"),
        ConnectionRefusedError(111, "Connection refused"),
    ],
    ids=["asyncpg-gone", "sqlite-locked", "refused"],
)
async def test_a_database_that_does_not_answer_is_a_503_to_retry(
    release_app: AppAndClient, monkeypatch: pytest.MonkeyPatch, error: Exception
) -> None:
    app, client = release_app
    await grown_log(app, 300)
    app.state.audit_log.cache = TileCache(max_tiles=0)

    async def gone(self: LogReader, sql: str, params: object) -> object:
        raise error

    monkeypatch.setattr(LogReader, "_run", gone)
    for path, params in (
        ("/v1/log/proofs/inclusion", {"index": 7, "size": 300}),
        ("/log/" + tiles.tile_path(0, 0, 256), {}),
        ("/log/checkpoint", {}),
    ):
        response = await client.get(path, params=params)
        assert response.status_code == 503, path
        assert response.json()["code"] == "dependency_unavailable"
        assert "retry-after" in response.headers


async def test_openapi_documents_the_503_of_the_log_reads(release_app: AppAndClient) -> None:
    _, client = release_app
    paths = (await client.get("/openapi.json")).json()["paths"]
    for route in ("/log/tile/{path}", "/log/checkpoint", "/v1/log/proofs/inclusion"):
        assert "503" in paths[route]["get"]["responses"], route
