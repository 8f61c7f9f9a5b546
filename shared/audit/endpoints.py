"""The audit log's read API, mounted in each service (C2SP tlog-tiles paths and proofs).

Tiles, entry bundles and the checkpoint carry a strong ETag (the first 128 bits of the
body's SHA-256) and answer a matching `If-None-Match` with 304, so that a CDN or a reverse
proxy can serve the log to every verifier. The comparison is the few lines of RFC 9110
section 13.1.2 below rather than a library's: Starlette keeps its own inside `StaticFiles`,
and Werkzeug, which has one, is not a dependency of ours.

The routes that verifiers call in bulk (tiles, bundles, checkpoint, proofs) read through a
`LogReader` (see `shared.audit.repository`): one statement per read, no ORM session.
"""

import hashlib
import sqlite3
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request, Response
from pydantic import BaseModel

from shared.audit import repository as repo
from shared.audit import service
from shared.audit.repository import LogReader, LogReads
from shared.deps import AuditLogDep, ReadSessionDep
from shared.problems import NotFound, is_outage, problem_responses
from shared.tlog import tiles


@asynccontextmanager
async def log_reads(app: FastAPI) -> AsyncIterator[None]:
    """The read API's connections, for the app's lifetime (nested in the app's lifespan, so
    the service's engine exists when this starts and still exists when this ends)."""
    reads = LogReads(app.state.engine, app.state.settings.database_schema)
    app.state.log_reads = reads
    try:
        yield
    finally:
        await reads.close()


router = APIRouter(tags=["audit log"], lifespan=log_reads)

TEXT = "text/plain; charset=utf-8"
# Full tiles and full entry bundles never change (C2SP tlog-tiles).
IMMUTABLE = "public, max-age=31536000, immutable"
# Partial tiles and the checkpoint are replaced as the log grows (a checkpoint a second).
SHORT_LIVED = "public, max-age=5"


async def get_log_reader(request: Request) -> AsyncIterator[LogReader]:
    """A reader on one pooled connection for the length of the request's handler.

    The reader's errors come from the driver, not wrapped by SQLAlchemy as the services'
    outage handler expects: a database that does not answer becomes a `ConnectionError`
    here, so that it is a 503 `dependency_unavailable` with `Retry-After`, not a 500.
    """
    reads: LogReads = request.app.state.log_reads
    try:
        async with reads.reader() as reader:
            yield reader
    except Exception as exc:
        if _database_gone(exc):
            raise ConnectionError("the log's database did not answer") from exc
        raise


def _database_gone(exc: Exception) -> bool:
    if is_outage(exc) or isinstance(exc, sqlite3.OperationalError):  # e.g. "database is locked"
        return True
    # What SQLAlchemy's asyncpg dialect also calls a disconnect.
    return type(exc).__name__ == "InterfaceError" and "connection is closed" in str(exc)


# scope="function": the connection goes back to the pool before the response is sent.
LogReaderDep = Annotated[LogReader, Depends(get_log_reader, scope="function")]

_VALIDATED = {
    "ETag": {"description": "strong entity tag of the body", "schema": {"type": "string"}},
    "Cache-Control": {"description": "how long caches may keep it", "schema": {"type": "string"}},
}


def _answers(
    media_type: str, *problems: int, cached: bool = False
) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route that answers with a non-JSON body, or with these problems."""
    body = {"type": "string", "format": "binary"} if "octet" in media_type else {"type": "string"}
    ok: dict[str, Any] = {"content": {media_type: {"schema": body}}}
    if not cached:
        return {200: ok, **problem_responses(*problems)}
    return {
        200: {**ok, "headers": _VALIDATED},
        304: {
            "description": "Not Modified: the request's If-None-Match names the current "
            "ETag (strong or W/, in a list, or *); no body",
            "headers": _VALIDATED,
        },
        **problem_responses(*problems),
    }


def entity_tag(body: bytes) -> str:
    """A strong ETag: the body's SHA-256, first 128 bits, quoted."""
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def none_match(if_none_match: str | None, etag: str) -> bool:
    """Whether `If-None-Match` names this ETag (weak comparison, RFC 9110 section 13.1.2)."""
    if if_none_match is None:
        return False
    if if_none_match.strip() == "*":
        return True
    opaque = etag.removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == opaque for tag in if_none_match.split(","))


def cacheable(body: bytes, media_type: str, cache_control: str, request: Request) -> Response:
    """The body with its ETag and Cache-Control, or 304 with both if the client holds it.

    `If-None-Match` is read from the request, not declared as a parameter: it is HTTP's own
    conditional request, documented with the 304 it may earn.
    """
    etag = entity_tag(body)
    headers = {"ETag": etag, "Cache-Control": cache_control}
    if none_match(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=media_type, headers=headers)


class InclusionProof(BaseModel):
    """An RFC 9162 inclusion proof (hashes in standard base64)."""

    index: int
    size: int
    root_hash: str
    proof: list[str]


class ConsistencyProof(BaseModel):
    """An RFC 9162 consistency proof (hashes in standard base64)."""

    old: int
    new: int
    old_root_hash: str
    new_root_hash: str
    proof: list[str]


@router.get(
    "/log/key", response_class=Response, summary="Checkpoint verifier key", responses=_answers(TEXT)
)
async def log_key(log: AuditLogDep) -> Response:
    """The signed-note verifier key of this log's checkpoints."""
    return Response(log.verifier_key + "\n", media_type=TEXT)


@router.get(
    "/log/checkpoint",
    response_class=Response,
    summary="Latest signed checkpoint",
    responses=_answers(TEXT, 404, cached=True),
)
async def log_checkpoint(request: Request, reader: LogReaderDep) -> Response:
    """The newest signed checkpoint (C2SP tlog-checkpoint), cached for a few seconds."""
    note = await reader.latest_checkpoint_note()
    if note is None:
        raise NotFound("checkpoint_not_found", "no checkpoint has been signed yet")
    return cacheable(note.encode(), TEXT, SHORT_LIVED, request)


@router.get(
    "/log/tile/{path:path}",
    response_class=Response,
    summary="Hash tile or entry bundle",
    responses=_answers("application/octet-stream", 404, cached=True),
)
async def log_tile(path: str, request: Request, reader: LogReaderDep, log: AuditLogDep) -> Response:
    """A C2SP tlog-tiles hash tile or entry bundle, full or partial (`.p/<W>`).

    Full ones are immutable (cached for a year); partial ones for a few seconds.
    """
    try:
        level, index, width = tiles.parse_tile_path("tile/" + path)
    except ValueError as exc:
        raise NotFound("tile_not_found", f"not a tile path: {exc}") from exc
    if level == "entries":
        data = await service.entry_bundle(reader, index, width)
    else:
        data = await service.hash_tile(reader, log, level, index, width)
    full = width == tiles.TILE_WIDTH
    return cacheable(data, "application/octet-stream", IMMUTABLE if full else SHORT_LIVED, request)


@router.get("/v1/log/proofs/inclusion", response_model=InclusionProof)
async def log_inclusion_proof(
    reader: LogReaderDep,
    log: AuditLogDep,
    index: Annotated[int, Query(ge=0)],
    size: Annotated[int, Query(ge=1)],
) -> InclusionProof:
    """Inclusion proof of one entry in the tree of a given size."""
    proof, root = await service.inclusion_proof_and_root(reader, log, index=index, size=size)
    return InclusionProof(
        index=index,
        size=size,
        root_hash=service.encode_hashes([root])[0],
        proof=service.encode_hashes(proof),
    )


@router.get("/v1/log/proofs/consistency", response_model=ConsistencyProof)
async def log_consistency_proof(
    reader: LogReaderDep,
    log: AuditLogDep,
    old: Annotated[int, Query(ge=1)],
    new: Annotated[int, Query(ge=1)],
) -> ConsistencyProof:
    """Consistency proof between two tree sizes."""
    proof, old_hash, new_hash = await service.consistency_proof_and_roots(
        reader, log, old=old, new=new
    )
    old_root, new_root = service.encode_hashes([old_hash, new_hash])
    return ConsistencyProof(
        old=old,
        new=new,
        old_root_hash=old_root,
        new_root_hash=new_root,
        proof=service.encode_hashes(proof),
    )


@router.get(
    "/v1/log/events/{event_id}/receipt",
    response_class=Response,
    summary="Event receipt",
    responses=_answers(TEXT, 404),
)
async def log_event_receipt(
    event_id: uuid.UUID, session: ReadSessionDep, log: AuditLogDep
) -> Response:
    """A C2SP tlog-proof of one event, once it is under a signed checkpoint."""
    return Response(await service.receipt(session, log, event_id), media_type=TEXT)


class LogStatus(BaseModel):
    """Whether the log still signs, and what its witnesses last cosigned."""

    origin: str
    size: int
    checkpoint_size: int | None
    signing: bool
    alarm: str | None
    signed_size: int | None
    checkpoints_refused: int
    witnesses: list[dict[str, Any]]


@router.get("/v1/log/status", response_model=LogStatus)
async def log_status(request: Request, session: ReadSessionDep, log: AuditLogDep) -> LogStatus:
    """The sequencer guard's state (an alarm if the stored tree stopped extending what it
    signed) and each witness's last cosigned size or error."""
    sequencer = request.app.state.sequencer
    guard: dict[str, Any] = sequencer.guard.status()
    latest = await repo.latest_checkpoint(session)
    return LogStatus(
        origin=log.origin,
        size=await service.tree_size(session),
        checkpoint_size=latest.size if latest is not None else None,
        signing=bool(guard["signing"]),
        alarm=guard["alarm"],
        signed_size=guard["signed_size"],
        checkpoints_refused=int(guard["checkpoints_refused"]),
        witnesses=sequencer.witnesses.status() if sequencer.witnesses is not None else [],
    )
