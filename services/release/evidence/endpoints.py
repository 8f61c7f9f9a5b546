"""Evidence bundles over HTTP: port security exports one release's evidence as one file."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from services.release.access.service import record_read
from services.release.auth import Caller
from services.release.deps import NowDep, SettingsDep, require
from services.release.evidence import service
from services.release.evidence.verify import MEDIA_TYPE
from services.release.releases import repository as releases
from shared.db import transaction
from shared.deps import AuditLogDep, ReadSessionDep
from shared.problems import NotFound, Problem, problem_responses

router = APIRouter(prefix="/v1/releases", tags=["evidence"])

PortSecurity = Annotated[Caller, Depends(require("releases:read", "port_security"))]


@router.get(
    "/{release_id}/evidence",
    response_class=Response,
    summary="A release's evidence bundle (port security)",
    responses={
        200: {"content": {MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}}}},
        **problem_responses(401, 403, 404, 409, 422, 503),
    },
)
async def export_evidence(
    release_id: uuid.UUID,
    request: Request,
    caller: PortSecurity,
    session: ReadSessionDep,
    log: AuditLogDep,
    settings: SettingsDep,
    now: NowDep,
) -> Response:
    """One file with everything needed to check the release offline (docs/evidence.md):
    `ketenpas evidence verify FILE --log-key ... --identity-jwks ...`.

    Problems: 404 `release_not_found`; 409 `evidence_not_sequenced` (an event of the
    release is not yet under a signed checkpoint: ask again after its `retry_after`, a
    second); 503 `identity_unavailable`. The export is appended to the audit log
    (`evidence.exported`) and recorded in the access log (`evidence.export`).
    """
    release = await releases.get_visible(session, caller, release_id)

    async def record(outcome: str) -> None:
        # In its own transaction, so that refused and failed exports stay on record too.
        await record_read(
            request.app.state.sessions,
            caller,
            action="evidence.export",
            outcome=outcome,
            now=now,
            release_id=release_id,
            container=release.container if release else None,
            results=1 if release else 0,
        )

    if release is None:
        await record("not_found")
        raise NotFound("release_not_found", "no such release")
    try:
        bundle = await service.build(
            session,
            release=release,
            log=log,
            identity=request.app.state.identity_client,
            issuer=settings.identity_issuer,
            witnesses=settings.witnesses(),
            min_witnesses=settings.audit_min_witnesses,
        )
    except Problem as refusal:
        await record("not_sequenced" if isinstance(refusal, service.NotSequenced) else "failed")
        raise
    await record("shown")
    # The bundle is read in one snapshot; the export is logged in a transaction of its own
    # (the read session takes no write lock), committed before the file is handed out.
    async with transaction(request.app.state.sessions) as writer:
        await service.log_export(writer, caller=caller, release=release, bundle=bundle)
    return Response(
        bundle,
        media_type=MEDIA_TYPE,
        headers={
            "Content-Disposition": f'attachment; filename="evidence-{release.id}.json"',
            "Cache-Control": "no-store",
        },
    )
