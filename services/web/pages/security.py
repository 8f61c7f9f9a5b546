"""Port security's pages: find a container and its handover chains with every signature
judged; the audit log's checkpoint and a full verification; inspections and dog visits
with their draws; the evidence bundle of a release."""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request, Response

from services.web import core
from services.web.session import Who
from shared.audit.verify import VerificationFailed, verify_log

router = APIRouter(prefix="/security")

_OVERSEERS = ("port_security", "customs")


def _officer(request: Request) -> Who:
    return core.who_may(request, lambda person: person.has_party_role(*_OVERSEERS), "port security")


@router.get("")
async def search(request: Request) -> Response:
    """Search a container; its releases, each chain with every link's signer and verdict."""
    _officer(request)
    container = (request.query_params.get("container") or "").strip().upper().replace(" ", "")
    releases: list[dict[str, Any]] = []
    chains: dict[str, Any] = {}
    if container:
        release_api = core.api(request, "release")
        answer = await release_api.get("/v1/releases", container=container)
        releases = answer.get("releases", [])
        for release in releases[:10]:
            chain_id = release["release_id"]
            chains[chain_id] = await release_api.get(f"/v1/releases/{chain_id}/chain")
    return core.render(
        request, "security/search.html", container=container, releases=releases, chains=chains
    )


@router.get("/releases/{release_id}/evidence")
async def evidence(request: Request, release_id: uuid.UUID) -> Response:
    """The release's evidence bundle, passed through as the release service made it."""
    _officer(request)
    answer = await core.api(request, "release").call(
        "GET", f"/v1/releases/{release_id}/evidence", accept="*/*"
    )
    disposition = answer.headers.get(
        "content-disposition", f'attachment; filename="evidence-{release_id}.json"'
    )
    return Response(
        answer.content,
        media_type=answer.headers.get("content-type", "application/json"),
        headers={"Content-Disposition": disposition},
    )


@router.get("/log")
async def log_page(request: Request) -> Response:
    """The audit log's latest signed checkpoint, and a button to verify the whole log."""
    _officer(request)
    checkpoint = await _checkpoint(core.api(request, "release"))
    return core.render(request, "security/log.html", checkpoint=checkpoint, result=None)


async def _checkpoint(release_api: Any) -> str:
    return str((await release_api.call("GET", "/log/checkpoint", accept="*/*")).text)


@router.post("/log/verify")
async def verify(request: Request) -> Response:
    """Verify the release service's audit log end to end against the trusted log key."""
    _officer(request)
    await core.checked_form(request)
    settings = core.settings_of(request)
    release_api = core.api(request, "release")
    key = settings.release_log_key
    trusted = bool(key)
    if not key:
        # Development only (settings refuse an empty key elsewhere): the key the service
        # itself publishes, which proves consistency but not who signed.
        key = (await release_api.call("GET", "/log/key", accept="*/*")).text.strip()
    result: dict[str, Any]
    try:
        report = await verify_log(settings.release_url, key, transport=request.app.state.transport)
        result = {"ok": True, "size": report.size, "trusted": trusted}
    except VerificationFailed as failure:
        result = {"ok": False, "detail": str(failure), "trusted": trusted}
    checkpoint = await _checkpoint(release_api)
    return core.render(request, "security/log.html", checkpoint=checkpoint, result=result)


@router.get("/inspections")
async def inspections(request: Request) -> Response:
    """The last day's draws (containers and dog visits), the latest inspections with their
    outcomes, the visits."""
    _officer(request)
    until = datetime.now(UTC).replace(microsecond=0)
    since = until - timedelta(days=1)
    release_api = core.api(request, "release")
    period = {"since": since.isoformat(), "until": until.isoformat()}
    draws = await release_api.get("/v1/inspections/draws", limit=50, **period)
    recent_inspections = await release_api.get("/v1/inspections", limit=50)
    slots = await release_api.get("/v1/sites/slots", limit=50, **period)
    return core.render(
        request,
        "security/inspections.html",
        draws=draws.get("draws", []),
        inspections=recent_inspections.get("inspections", []),
        slots=[slot for slot in slots.get("slots", []) if slot.get("visit")],
        since=since,
        until=until,
    )
