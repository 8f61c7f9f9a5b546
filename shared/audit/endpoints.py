"""The audit log's read API, mounted in each service (C2SP tlog-tiles paths and proofs)."""

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel

from shared.audit import repository as repo
from shared.audit import service
from shared.deps import AuditLogDep, ReadSessionDep
from shared.problems import NotFound, problem_responses
from shared.tlog import tiles

router = APIRouter(tags=["audit log"])

TEXT = "text/plain; charset=utf-8"
IMMUTABLE = "public, max-age=31536000, immutable"
SHORT_LIVED = "public, max-age=1"


def _answers(media_type: str, *problems: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route that answers with a non-JSON body, or with these problems."""
    body = {"type": "string", "format": "binary"} if "octet" in media_type else {"type": "string"}
    return {200: {"content": {media_type: {"schema": body}}}, **problem_responses(*problems)}


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
    responses=_answers(TEXT, 404),
)
async def log_checkpoint(session: ReadSessionDep) -> Response:
    """The newest signed checkpoint (C2SP tlog-checkpoint)."""
    latest = await repo.latest_checkpoint(session)
    if latest is None:
        raise NotFound("checkpoint_not_found", "no checkpoint has been signed yet")
    return Response(latest.note, media_type=TEXT, headers={"Cache-Control": SHORT_LIVED})


@router.get(
    "/log/tile/{path:path}",
    response_class=Response,
    summary="Hash tile or entry bundle",
    responses=_answers("application/octet-stream", 404),
)
async def log_tile(path: str, session: ReadSessionDep, log: AuditLogDep) -> Response:
    """A C2SP tlog-tiles hash tile or entry bundle, full or partial (`.p/<W>`)."""
    try:
        level, index, width = tiles.parse_tile_path("tile/" + path)
    except ValueError as exc:
        raise NotFound("tile_not_found", f"not a tile path: {exc}") from exc
    if level == "entries":
        data = await service.entry_bundle(session, index, width)
    else:
        data = await service.hash_tile(session, log, level, index, width)
    full = width == tiles.TILE_WIDTH
    return Response(
        data,
        media_type="application/octet-stream",
        headers={"Cache-Control": IMMUTABLE if full else SHORT_LIVED},
    )


@router.get("/v1/log/proofs/inclusion", response_model=InclusionProof)
async def log_inclusion_proof(
    session: ReadSessionDep,
    log: AuditLogDep,
    index: Annotated[int, Query(ge=0)],
    size: Annotated[int, Query(ge=1)],
) -> InclusionProof:
    """Inclusion proof of one entry in the tree of a given size."""
    proof = await service.inclusion_proof(session, log, index=index, size=size)
    root = await service.root_at(session, log, size)
    return InclusionProof(
        index=index,
        size=size,
        root_hash=service.encode_hashes([root])[0],
        proof=service.encode_hashes(proof),
    )


@router.get("/v1/log/proofs/consistency", response_model=ConsistencyProof)
async def log_consistency_proof(
    session: ReadSessionDep,
    log: AuditLogDep,
    old: Annotated[int, Query(ge=1)],
    new: Annotated[int, Query(ge=1)],
) -> ConsistencyProof:
    """Consistency proof between two tree sizes."""
    proof = await service.consistency_proof(session, log, old=old, new=new)
    old_root, new_root = service.encode_hashes(
        [await service.root_at(session, log, old), await service.root_at(session, log, new)]
    )
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
