"""A clear page for every problem, in the person's language, never a stack trace.

The services answer problems with stable codes (their OpenAPI documents list them); the
codes a person meets on these pages get a sentence of their own here, and any other code is
shown with the service's own detail, so nothing is hidden from him either.
"""

from fastapi import Request
from fastapi.responses import HTMLResponse

from services.web import core
from services.web.core import _

# The identity service's 401s that ask for a fresh TOTP code (the sign-in's second factor is
# too old for a gate pass): the page asks for one; they do not end the session.
NEEDS_FRESH_CODE = frozenset({"second_factor_too_old", "second_factor_required"})

MESSAGES: dict[str, str] = {
    "form_refused": _(
        "This form was sent without its security token, or from another site. Nothing was "
        "done. Open the page again and send it from there."
    ),
    "not_found": _("There is no such page, or it is not yours to see."),
    "internal_error": _("Something went wrong on our side. Nothing was lost; try again."),
    "service_unavailable": _("A Ketenpas service did not answer. Try again in a moment."),
    "invalid_credentials": _("The username, password or code is not right."),
    "sign_in_refused": _("The username, password or code is not right."),
    "rate_limited": _("Too many tries. Wait a moment, then try again."),
    "link_not_found": _("There is no such step in this release's chain."),
    "release_not_found": _("There is no such release, or it is not yours to see."),
    "not_receiver": _("Only the party or driver this step names can answer it."),
    "forbidden": _("Your role may not do this."),
    "evidence_not_sequenced": _(
        "The latest events of this release are still being added to the audit log. Try again "
        "in a moment."
    ),
}


def page(request: Request, status: int, code: str, detail: str = "") -> HTMLResponse:
    """The problem page for a status and code (the service's detail shown beside it)."""
    gettext = core.gettext_for(request)
    message = gettext(MESSAGES[code]) if code in MESSAGES else ""
    return core.render(
        request,
        "problem.html",
        status=status,
        code=code,
        message=message,
        detail=detail,
        http_status=status,
    )
