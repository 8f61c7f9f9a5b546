"""Signing in and out, the language, and the start page that sends each person to his work."""

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse

from services.web import core
from services.web.api import ApiProblem
from services.web.session import Who
from services.web.settings import LANGUAGES

router = APIRouter()

# Where each kind of person works, by his party's roles and his own role.
_HOME_BY_PARTY_ROLE = (
    ("port_security", "/security"),
    ("customs", "/security"),
    ("terminal", "/gate"),
    ("carrier", "/dispatch"),
    ("forwarder", "/dispatch"),
    ("shipping_line", "/dispatch"),
)


def home_of(person: Who) -> str:
    """The first page of a person's work."""
    if person.role == "driver":
        return "/driver"
    for role, page in _HOME_BY_PARTY_ROLE:
        if person.has_party_role(role):
            return page
    return "/account"


@router.get("/healthz", include_in_schema=False)
async def healthz() -> Response:
    """Alive."""
    return PlainTextResponse("ok")


@router.get("/readyz", include_in_schema=False)
async def readyz(request: Request) -> Response:
    """Ready whenever it answers: `degraded` while the cache (which knows the sessions signed
    out elsewhere) does not, when pages of signed-in people say "try again". Every replica
    shares that cache, so taking them out of the balancer would show no page at all."""
    cache = await request.app.state.cache.ping()
    return JSONResponse({"status": "ready" if cache else "degraded", "checks": {"cache": cache}})


@router.get("/")
async def start(request: Request) -> Response:
    """Signed in: the person's work; otherwise the sign-in page."""
    session = core.session_of(request)
    if not session.signed_in or session.who is None:
        return core.redirect("/signin")
    return core.redirect(home_of(session.who))


@router.get("/account")
async def account(request: Request) -> Response:
    """A person whose role has no pages here (an administrator): who he is, and where to go."""
    core.who(request)
    return core.render(request, "account.html")


@router.get("/signin")
async def sign_in_page(request: Request) -> Response:
    """The sign-in form: username, password and the authenticator's code."""
    session = core.session_of(request)
    if session.signed_in and session.who is not None:
        return core.redirect(home_of(session.who))
    return core.render(request, "signin.html")


@router.post("/signin")
async def sign_in(request: Request) -> Response:
    """Sign in at the identity service; the token goes into the sealed session cookie."""
    form = await core.checked_form(request)
    username = str(form.get("username") or "").strip()
    password = str(form.get("password") or "")
    otp = str(form.get("otp") or "").strip().replace(" ", "")
    identity = core.api(request, "identity")
    try:
        answer = await identity.post(
            "/v1/sessions", {"username": username, "password": password, "otp": otp}
        )
    except ApiProblem as problem:
        if problem.status >= 500:
            raise
        return core.render(
            request,
            "signin.html",
            status=problem.status if problem.status in (401, 403, 429) else 400,
            username=username,
            error=problem.code,
        )
    token = str(answer["access_token"])
    person = await _describe(request, token)
    now = core.now(request)
    core.session_of(request).sign_in(token, now + int(answer["expires_in"]), person, now)
    return core.redirect(home_of(person))


async def _describe(request: Request, token: str) -> Who:
    """Who the token is for, as the identity service says (`GET /v1/sessions/current`)."""
    me = await core.api(request, "identity", token).get("/v1/sessions/current")
    return Who(
        person_id=str(me["person_id"]),
        username=str(me["username"]),
        name=str(me["name"]),
        party_id=str(me["party_id"]),
        party_name=str(me["party_name"]),
        party_roles=[str(role) for role in me["party_roles"]],
        role=str(me["role"]),
    )


@router.post("/signout")
async def sign_out(request: Request) -> Response:
    """Forget the token; the cookie is rewritten without it."""
    await core.checked_form(request)
    session = core.session_of(request)
    if session.signed_in:
        # Remembered until the token expires: a copy of this cookie is signed out too.
        lifetime = max(1, session.token_expires - core.now(request))
        await request.app.state.cache.set_if_absent(session.ended_key, "1", lifetime)
    session.sign_out()
    session.notice = "signed_out"
    return core.redirect("/signin")


@router.post("/language")
async def language(request: Request) -> Response:
    """Switch between English and Dutch; back to the page the switch was on."""
    form = await core.checked_form(request)
    chosen = str(form.get("language") or "")
    session = core.session_of(request)
    if chosen in LANGUAGES:
        session.language, session.changed = chosen, True
    back = str(form.get("back") or "/")
    # Only a path of this site: never an address elsewhere (no open redirect).
    if not back.startswith("/") or back.startswith("//") or "\\" in back:
        back = "/"
    return core.redirect(back)
