"""The web front end's FastAPI app: pages, the session cookie, security headers, problems."""

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import structlog
from fastapi import FastAPI, Request, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.web import core, problems
from services.web.api import ApiProblem
from services.web.i18n import choose
from services.web.pages import alerts, auth, dispatch, driver, gate, investigations, security
from services.web.session import Session, SessionCookie
from services.web.settings import WebSettings
from shared.cache import cache_from_url
from shared.problems import OUTAGE_ERRORS

logger = structlog.get_logger(__name__)

STATIC = Path(__file__).parent / "static"

# No inline script or style anywhere; nothing from another origin; no framing.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    ]
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    # same-origin, not no-referrer: under no-referrer Chromium sends `Origin: null` on a
    # form post, and the origin check of every form would refuse it.
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(self), geolocation=(), microphone=()",
}


# Static files and the probes answer the same with or without a session (and while the
# cache that knows ended sessions is away).
SESSIONLESS = ("/static/", "/healthz", "/readyz")


def _hardened(request: Request, response: Response) -> Response:
    """The security headers on every answer; no-store on every page."""
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if not request.url.path.startswith("/static/"):
        # Pages name the person and his containers: no shared cache keeps them.
        response.headers["Cache-Control"] = "no-store"
    return response


def create_app(
    settings: WebSettings | None = None,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    clock: Callable[[], float] = core.wall_clock,
) -> FastAPI:
    """The front end, calling the services `settings` names (through `transport` in tests)."""
    settings = settings or WebSettings()
    cookie = SessionCookie(settings.session_key_bytes(), secure=settings.secure_cookies)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        timeout = httpx.Timeout(settings.api_timeout_seconds)
        app.state.cache = cache_from_url(settings.cache_url, settings.cache_prefix)
        try:
            async with httpx.AsyncClient(
                timeout=timeout, follow_redirects=False, transport=transport
            ) as client:
                app.state.http = client
                yield
        finally:
            await app.state.cache.close()

    app = FastAPI(
        title="Ketenpas web",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.settings = settings
    app.state.cookie = cookie
    app.state.clock = clock
    app.state.transport = transport
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.include_router(auth.router)
    for pages in (driver, dispatch, gate, security, alerts, investigations):
        app.include_router(pages.router)

    @app.middleware("http")
    async def session_and_headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        if request.url.path.startswith(SESSIONLESS):  # no page of a person: no session
            return _hardened(request, await call_next(request))
        session = cookie.open(request.cookies.get(cookie.name)) or Session()
        now = core.now(request)
        request.state.session = session
        request.state.language = choose(
            session.language, request.headers.get("accept-language", ""), settings.default_language
        )
        expired = session.expired(now, settings.session_idle_seconds)
        try:
            ended = (
                not expired
                and session.signed_in
                and await request.app.state.cache.get(session.ended_key)
            )
        except OUTAGE_ERRORS:
            # Only the cache knows whether this session was signed out elsewhere: without
            # it, a copy of a signed-out cookie would pass. No page then, but the session is
            # kept (not signed out) for when the cache is back.
            logger.warning("web_session_check_failed", exc_info=True)
            return _hardened(request, problems.page(request, 503, "service_unavailable"))
        if expired or ended:
            session.sign_out()
            session.notice = "expired"
        elif session.signed_in:
            session.seen, session.changed = now, True
        response = await call_next(request)
        if session.changed:
            response.set_cookie(
                cookie.name,
                cookie.seal(session),
                httponly=True,
                secure=cookie.secure,
                samesite="lax",
                path="/",
            )
        return _hardened(request, response)

    @app.exception_handler(core.SignInNeeded)
    async def sign_in_needed(request: Request, exc: core.SignInNeeded) -> Response:
        return core.redirect("/signin")

    @app.exception_handler(core.FormRefused)
    async def form_refused(request: Request, exc: core.FormRefused) -> Response:
        return problems.page(request, 403, "form_refused")

    @app.exception_handler(ApiProblem)
    async def api_problem(request: Request, exc: ApiProblem) -> Response:
        if (
            exc.status == 401
            and exc.code not in problems.NEEDS_FRESH_CODE
            and core.session_of(request).signed_in
        ):
            # The token was refused (expired, revoked, the person suspended): sign in again.
            session = core.session_of(request)
            session.sign_out()
            session.notice = "expired"
            return core.redirect("/signin")
        logger.info("api_problem", service=exc.service, status=exc.status, code=exc.code)
        return problems.page(request, exc.status, exc.code, exc.detail)

    @app.exception_handler(StarletteHTTPException)
    async def http_problem(request: Request, exc: StarletteHTTPException) -> Response:
        code = "not_found" if exc.status_code == 404 else f"http_{exc.status_code}"
        return problems.page(request, exc.status_code, code)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        logger.exception("web_error", path=request.url.path)
        return problems.page(request, 500, "internal_error")

    return app
