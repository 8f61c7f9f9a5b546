"""The terminal operator's gate screen: scan a gate pass, see the decision with its reasons
in plain words, complete the gate-out; and the terminal's open inspections."""

import uuid

from fastapi import APIRouter, Request, Response

from services.web import core
from services.web.core import _
from services.web.session import Who

router = APIRouter(prefix="/gate")


# The gate's reason codes (docs/release.md), in words an operator reads at a glance.
REASONS: dict[str, str] = {
    "no_open_release": _("There is no open release of this container at this terminal."),
    "hold_placed": _("A hold is on this container."),
    "chain_broken": _("The chain of handovers does not verify."),
    "wrong_driver": _("This driver is not the one assigned to the container."),
    "gate_pass_invalid": _("The gate pass is not valid (expired, altered or not for this gate)."),
    "gate_pass_jti": _("This gate pass has been used already."),
    "driver_suspended": _("The driver is suspended."),
    "driver_unknown": _("The driver is not known."),
    "screening_expired": _("The driver's screening has expired."),
    "release_expired": _("The release has expired."),
    "release_cancelled": _("The release was cancelled."),
    "already_picked_up": _("The container has been picked up already."),
    "random_inspection": _("Selected for inspection: send the container to the inspection area."),
    "inspection_open": _("An inspection of this container is still open."),
    "inspection_pending": _("An inspection of this container is still open."),
}


def _operator(request: Request) -> Who:
    return core.who_may(
        request, lambda person: person.has_party_role("terminal"), "terminal operators"
    )


@router.get("")
async def screen(request: Request) -> Response:
    """Scan or paste a gate pass; the terminal's open inspections below."""
    _operator(request)
    answer = await core.api(request, "release").get("/v1/inspections", status="open")
    return core.render(request, "gate/screen.html", inspections=answer.get("inspections", []))


@router.post("/decide")
async def decide(request: Request) -> Response:
    """Ask the release service whether the driver may take the container."""
    _operator(request)
    form = await core.checked_form(request)
    container = str(form.get("container") or "").strip().upper().replace(" ", "")
    gate_pass = str(form.get("gate_pass") or "").strip()
    decision = await core.api(request, "release").post(
        "/v1/gate/decisions", {"container": container, "gate_pass": gate_pass}
    )
    gettext = core.gettext_for(request)
    reasons = [
        {
            **reason,
            "words": gettext(REASONS[reason["code"]]) if reason["code"] in REASONS else "",
        }
        for reason in decision.get("reasons", [])
    ]
    return core.render(request, "gate/decision.html", decision=decision, reasons=reasons)


@router.post("/decisions/{decision_id}/complete")
async def complete(request: Request, decision_id: uuid.UUID) -> Response:
    """Record the gate-out of a released container."""
    _operator(request)
    await core.checked_form(request)
    await core.api(request, "release").post(f"/v1/gate/decisions/{decision_id}/complete")
    core.session_of(request).notice = "gate_out"
    return core.redirect("/gate")
