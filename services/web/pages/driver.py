"""The driver's pages: his jobs, accepting one with his phone's own key, and the gate pass.

The driver's acceptance of an assignment is signed in his browser with a key that never
leaves his phone (WebCrypto Ed25519, not extractable, kept in IndexedDB: static/driver.js);
the front end only carries the signed acceptance to the release service, so nobody at the
carrier, nor the front end, can accept in his name.
"""

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import segno
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from services.web import core, problems
from services.web.api import ApiProblem
from services.web.session import Who

router = APIRouter(prefix="/driver")

# The release service's list of the caller's work (docs/release.md).
WORK = "/v1/releases/work"


def _me(request: Request) -> Who:
    return core.who_may(request, lambda person: person.role == "driver", "drivers")


@router.get("")
async def jobs(request: Request) -> Response:
    """My jobs: containers assigned to me, with the release lights and what awaits me."""
    _me(request)
    work = await core.api(request, "release").get(WORK, limit=50)
    me = await core.api(request, "identity").get("/v1/sessions/current")
    return core.render(
        request,
        "driver/jobs.html",
        jobs=work.get("releases", []),
        needs_device_key=bool(me.get("needs_device_key")),
    )


@router.get("/jobs/{release_id}")
async def job(request: Request, release_id: uuid.UUID) -> Response:
    """One job: its release and chain, and the assignment to answer when it awaits me."""
    person = _me(request)
    release = await core.api(request, "release").get(f"/v1/releases/{release_id}")
    pending = next(
        (
            link
            for link in release.get("links", [])
            if link.get("kind") == "assignment"
            and link.get("to") == person.person_id
            and link.get("status") == "pending"
        ),
        None,
    )
    return core.render(request, "driver/job.html", release=release, job=release, pending=pending)


@router.post("/jobs/{release_id}/links/{seq}/accept")
async def accept(request: Request, release_id: uuid.UUID, seq: int) -> Response:
    """Carry the acceptance the phone signed to the release service."""
    _me(request)
    form = await core.checked_form(request)
    ack = str(form.get("ack") or "")
    if not ack:
        raise ApiProblem(422, "ack_missing", "this phone did not sign the acceptance", "web")
    await core.api(request, "release").post(
        f"/v1/releases/{release_id}/links/{seq}/accept", {"ack": ack}
    )
    core.session_of(request).notice = "accepted"
    return core.redirect(f"/driver/jobs/{release_id}")


@router.post("/jobs/{release_id}/links/{seq}/decline")
async def decline(request: Request, release_id: uuid.UUID, seq: int) -> Response:
    """Decline an assignment."""
    _me(request)
    await core.checked_form(request)
    await core.api(request, "release").post(f"/v1/releases/{release_id}/links/{seq}/decline")
    core.session_of(request).notice = "declined"
    return core.redirect("/driver")


@router.get("/device")
async def device_page(request: Request) -> Response:
    """Register this phone's key (made and kept in the browser)."""
    _me(request)
    return core.render(request, "driver/device.html")


@router.post("/device")
async def register_device(request: Request) -> Response:
    """Register the public half of the key the browser made."""
    person = _me(request)
    form = await core.checked_form(request)
    try:
        jwk = json.loads(str(form.get("jwk") or ""))
    except ValueError:
        raise ApiProblem(422, "jwk_invalid", "the phone sent no public key", "web") from None
    await core.api(request, "identity").post(
        f"/v1/people/{person.person_id}/device-keys", {"jwk": jwk}
    )
    core.session_of(request).notice = "device_registered"
    return core.redirect("/driver")


@router.get("/pass")
async def gate_pass_page(request: Request) -> Response:
    """The gate pass as a QR code; the page asks for a fresh one before it expires."""
    person = _me(request)
    try:
        answer = await _gate_pass(request, person.person_id)
    except ApiProblem as problem:
        if problem.code not in problems.NEEDS_FRESH_CODE:
            raise
        return core.render(request, "driver/pass_code.html", status=401)
    return core.render(request, "driver/pass.html", shown_at=_shown_at(request), **answer)


def _shown_at(request: Request) -> str:
    """When the pass page was shown (ISO 8601, UTC): a gate answer after it is news."""
    return datetime.fromtimestamp(core.now(request), UTC).isoformat()


@router.post("/pass/code")
async def gate_pass_with_code(request: Request) -> Response:
    """A gate pass for a fresh TOTP code, when the sign-in is too old to vouch for him."""
    person = _me(request)
    form = await core.checked_form(request)
    otp = str(form.get("otp") or "").strip().replace(" ", "")
    try:
        answer = await _gate_pass(request, person.person_id, otp=otp)
    except ApiProblem as problem:
        if problem.status >= 500 or problem.code == "rate_limited":
            raise
        return core.render(request, "driver/pass_code.html", status=401, error=problem.code)
    return core.render(request, "driver/pass.html", shown_at=_shown_at(request), **answer)


@router.get("/gate")
async def gate_answer(request: Request) -> Response:
    """The gate's newest answer to the driver on any of his jobs, for the pass page's script
    (`null` until there is one): the result shows on his phone when it comes."""
    _me(request)
    work = await core.api(request, "release").get(WORK, limit=20, state="all")
    answers = [
        {"container": item["container"], **item["gate"]}
        for item in work.get("releases", [])
        if item.get("gate")
    ]
    newest = max(answers, key=lambda answer: str(answer["decided_at"]), default=None)
    return JSONResponse(newest)


@router.post("/pass")
async def fresh_gate_pass(request: Request) -> Response:
    """A fresh gate pass for the page's script (CSRF token in a header, as it posts no form)."""
    person = _me(request)
    core.check_csrf_header(request)
    return JSONResponse(await _gate_pass(request, person.person_id))


async def _gate_pass(request: Request, person_id: str, otp: str | None = None) -> dict[str, Any]:
    body = {"otp": otp} if otp else None
    answer = await core.api(request, "identity").post(f"/v1/people/{person_id}/gate-pass", body)
    gate_pass = str(answer["gate_pass"])
    svg = segno.make(gate_pass, error="m").svg_inline(scale=3, border=2, omitsize=True)
    return {"qr_svg": svg, "expires_in": int(answer["expires_in"]), "gate_pass": gate_pass}
