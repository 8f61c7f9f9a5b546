"""What every page uses: the session, the templates, checked forms and the two APIs."""

import hmac
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, FileSystemLoader, pass_context, select_autoescape
from jinja2.runtime import Context
from starlette.datastructures import FormData

from services.web.api import Api, ApiProblem
from services.web.i18n import translations
from services.web.session import Session, Who
from services.web.settings import LANGUAGES, WebSettings

TEMPLATES = Path(__file__).parent / "templates"

templates = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(default=True),
    extensions=["jinja2.ext.i18n"],
    trim_blocks=True,
    lstrip_blocks=True,
)


def _(message: str) -> str:
    """Marks a message for the catalog; translated when the page is rendered."""
    return message


# The services' status and kind words, as a person reads them (`{{ value | words }}`).
WORDS: dict[str, str] = {
    "open": _("open"),
    "picked_up": _("picked up"),
    "cancelled": _("cancelled"),
    "expired": _("expired"),
    "pending": _("pending"),
    "accepted": _("accepted"),
    "declined": _("declined"),
    "withdrawn": _("withdrawn"),
    "release": _("release"),
    "handover": _("handover"),
    "assignment": _("assignment"),
    "inspect": _("inspect"),
    "deny": _("deny"),
    "clear": _("clear"),
    "finding": _("finding"),
    "seizure": _("seizure"),
    "over_capacity": _("selected, over capacity"),
    "valid": _("valid"),
    "suspended": _("suspended"),
    "revoked": _("revoked"),
    "ok": _("verified"),
    "acknowledged": _("acknowledged"),
    "closed": _("closed"),
    "confirmed": _("confirmed"),
    "unfounded": _("unfounded"),
    "low": _("low"),
    "medium": _("medium"),
    "high": _("high"),
    "critical": _("critical"),
}


@pass_context
def words(context: Context, value: object) -> str:
    """A status or kind in the page's language (unknown ones as the service wrote them)."""
    text = str(value)
    if text not in WORDS:
        return text
    return translations(str(context.get("language", "en"))).gettext(WORDS[text])


templates.filters["words"] = words


class SignInNeeded(Exception):
    """The page needs a signed-in person (or the session idled out)."""


class FormRefused(Exception):
    """A form posted without its CSRF token, or from another origin: nothing was done."""


def settings_of(request: Request) -> WebSettings:
    """The front end's settings."""
    settings: WebSettings = request.app.state.settings
    return settings


def session_of(request: Request) -> Session:
    """The request's session (the middleware put it there)."""
    session: Session = request.state.session
    return session


def wall_clock() -> int:
    """Seconds since the epoch: the app's clock unless a test gives it another."""
    return int(time.time())


def now(request: Request) -> int:
    """The app's time, in seconds since the epoch."""
    return int(request.app.state.clock())


def who(request: Request) -> Who:
    """The signed-in person; `SignInNeeded` otherwise."""
    session = session_of(request)
    if not session.signed_in or session.who is None:
        raise SignInNeeded
    return session.who


def who_may(request: Request, allowed: Callable[[Who], bool], pages: str) -> Who:
    """The signed-in person, if these pages are for him; a 403 problem page otherwise (the
    services would refuse him anyway: this only spares him pages that cannot work)."""
    person = who(request)
    if not allowed(person):
        raise ApiProblem(403, "forbidden", f"these pages are for {pages}", "web")
    return person


def api(request: Request, service: str, token: str | None = None) -> Api:
    """The identity or release service, called with `token`, else the session's (if any)."""
    settings = settings_of(request)
    base = settings.identity_url if service == "identity" else settings.release_url
    client: httpx.AsyncClient = request.app.state.http
    return Api(client, base, service, token or session_of(request).token, forwarded_for(request))


def forwarded_for(request: Request) -> str | None:
    """The browser's address, passed on so the services limit sign-in tries per person's
    address rather than per front end (they trust it only from a listed proxy)."""
    return request.client.host if request.client else None


async def checked_form(request: Request) -> FormData:
    """The posted form, after its CSRF token and origin are checked (`FormRefused`)."""
    form = await request.form()
    expected = session_of(request).csrf
    given = form.get("csrf")
    if not isinstance(given, str) or not hmac.compare_digest(given, expected):
        raise FormRefused
    origin = request.headers.get("origin")
    if origin is not None and origin != settings_of(request).public_url.rstrip("/"):
        raise FormRefused
    return form


def check_csrf_header(request: Request) -> None:
    """A script's POST carries the CSRF token in `X-CSRF-Token` (`FormRefused` otherwise)."""
    given = request.headers.get("x-csrf-token", "")
    if not given or not hmac.compare_digest(given, session_of(request).csrf):
        raise FormRefused


def render(request: Request, template: str, *, status: int = 200, **context: Any) -> HTMLResponse:
    """A page in the session's language."""
    session = session_of(request)
    language = request.state.language
    templates.install_gettext_translations(translations(language), newstyle=True)  # type: ignore[attr-defined]
    page = templates.get_template(template).render(
        request=request,
        session=session,
        who=session.who,
        csrf=session.csrf,
        language=language,
        languages=LANGUAGES,
        notice=session.take_notice(),
        **context,
    )
    return HTMLResponse(page, status_code=status)


def redirect(url: str) -> RedirectResponse:
    """After a form: see the result at `url` (303, so a reload does not post again)."""
    return RedirectResponse(url, status_code=303)


def gettext_for(request: Request) -> Any:
    """The session language's gettext, for messages made in page code."""
    return translations(request.state.language).gettext
