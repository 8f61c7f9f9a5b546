"""RFC 9457 problem documents: domain errors carry a stable `code`; one handler maps them."""

from collections.abc import Callable, Iterator
from http import HTTPStatus
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute, iter_route_contexts
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import DBAPIError, OperationalError, StatementError
from sqlalchemy.exc import InterfaceError as SQLInterfaceError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

PROBLEM_TYPE_BASE = "https://ketenpas.example/problems/"
PROBLEM_MEDIA_TYPE = "application/problem+json"
# The RFC 9457 members every problem document of Ketenpas carries; a problem may add more
# (`errors` for invalid requests, `checks` for readiness, `retry_after`, ...).
PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "Problem",
    "required": ["type", "title", "status", "code", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "code": {"type": "string"},
        "detail": {"type": "string"},
    },
    "additionalProperties": True,
}
# For `responses={401: PROBLEM, ...}` in route declarations: the OpenAPI document then shows
# that those answers are problem documents.
PROBLEM: dict[str, Any] = {"content": {PROBLEM_MEDIA_TYPE: {"schema": PROBLEM_SCHEMA}}}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route whose answers with these statuses are problem documents."""
    return dict.fromkeys(statuses, PROBLEM)


logger = structlog.get_logger(__name__)


class Problem(Exception):
    """A domain error: its `code` is stable, its status follows the house style."""

    status: int = 400

    def __init__(
        self, code: str, detail: str, *, status: int | None = None, **extensions: Any
    ) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        if status is not None:
            self.status = status
        self.extensions = extensions


class InvalidInput(Problem):
    """422: the request is well-formed HTTP but its content is not acceptable."""

    status = 422


class Unauthorised(Problem):
    """401: missing or bad credentials."""

    status = 401


class Forbidden(Problem):
    """403: the caller's role or scope does not allow it."""

    status = 403


class NotFound(Problem):
    """404: does not exist, or exists but the caller may not see it."""

    status = 404


class Conflict(Problem):
    """409: the state of the thing forbids it now."""

    status = 409


def problem_response(
    status: int, code: str, detail: str, extensions: dict[str, Any] | None = None
) -> JSONResponse:
    """The RFC 9457 document for one problem."""
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + code,
        "title": HTTPStatus(status).phrase,
        "status": status,
        "code": code,
        "detail": detail,
    }
    if extensions:
        body.update(extensions)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE)


# A body that cannot be parsed at all (not JSON, not UTF-8, a broken form) is answered like
# one that parses but does not fit the schema: 422 `invalid_request`, as FastAPI does for a
# JSON syntax error, so that a client handles one status for "your request is not acceptable".
# Starlette and FastAPI raise HTTPException(400) only for such bodies; the services' own 400s
# (the token endpoint's OAuth errors) are Problems and keep their status.
_UNPARSEABLE_BODY = 400

_STATUS_CODES = {
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "body_too_large",
    415: "unsupported_media_type",
}


def install_problem_handlers(app: FastAPI) -> None:
    """Answer every error of the app, expected or not, with a problem document."""

    async def on_problem(_request: Request, exc: Exception) -> JSONResponse:
        if not isinstance(exc, Problem):  # registered for Problem: Starlette hands no other
            raise exc
        return problem_response(exc.status, exc.code, exc.detail, exc.extensions)

    async def on_validation(_request: Request, exc: Exception) -> JSONResponse:
        if not isinstance(exc, RequestValidationError):  # registered for it alone
            raise exc
        errors = [
            {"loc": list(err.get("loc", ())), "msg": str(err.get("msg", ""))}
            for err in exc.errors()
        ]
        return problem_response(
            422, "invalid_request", "the request does not match the schema", {"errors": errors}
        )

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        if not isinstance(exc, StarletteHTTPException):  # registered for it alone
            raise exc
        if exc.status_code == _UNPARSEABLE_BODY:
            return problem_response(
                422,
                "invalid_request",
                "the request body cannot be parsed",
                {"errors": [{"loc": ["body"], "msg": str(exc.detail)}]},
            )
        code = _STATUS_CODES.get(exc.status_code, f"http_{exc.status_code}")
        response = problem_response(exc.status_code, code, str(exc.detail))
        # Headers the answer owes the client, e.g. `Allow` on a 405 (RFC 9110).
        response.headers.update(exc.headers or {})
        if exc.status_code == 405:
            response.headers["Allow"] = ", ".join(_allowed_methods(request))
        return response

    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("unhandled_error", path=request.url.path)
        return problem_response(500, "internal_error", "an unexpected error occurred")

    async def on_outage(request: Request, exc: Exception) -> JSONResponse:
        # The database or the cache did not answer (restarting, unreachable, pool
        # exhausted): the request's transaction rolled back, and asking again shortly is
        # the right thing for the client to do, so this is 503, not a 500 bug report.
        logger.warning("dependency_unavailable", path=request.url.path, error=repr(exc))
        response = problem_response(
            503, "dependency_unavailable", "a database or cache did not answer; try again"
        )
        response.headers["Retry-After"] = str(OUTAGE_RETRY_AFTER_SECONDS)
        return response

    async def on_storage_error(request: Request, exc: Exception) -> JSONResponse:
        if is_outage(exc):
            return await on_outage(request, exc)
        # A NUL or a lone surrogate in some string of the request reaches the database
        # driver, which cannot store it: that is bad input, not a server fault. The
        # request's transaction has rolled back, so nothing changed.
        if _caused_by_unstorable_text(exc):
            return problem_response(
                422, "invalid_characters", "the request holds characters that cannot be stored"
            )
        return await on_unexpected(request, exc)

    app.add_exception_handler(Problem, on_problem)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(StatementError, on_storage_error)
    app.add_exception_handler(UnicodeError, on_storage_error)
    for outage in OUTAGE_ERRORS:
        app.add_exception_handler(outage, on_outage)
    app.add_exception_handler(Exception, on_unexpected)


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route takes at this path.

    Starlette's 405 names only the methods of the first route whose path matched, while a
    path is often served by several routes (GET and POST of a collection); RFC 9110 asks for
    all of the resource's methods.
    """
    methods: set[str] = set()
    for route in iter_route_contexts(request.app.routes):
        if route.matches(request.scope)[0] != Match.NONE:
            methods |= route.methods or set()
    return sorted(methods)


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """The exception, the driver error it wraps, and what caused those, in turn."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        orig = getattr(current, "orig", None)
        current = (
            orig if isinstance(orig, BaseException) else (current.__cause__ or current.__context__)
        )


def _caused_by_unstorable_text(exc: BaseException) -> bool:
    return any(
        isinstance(cause, UnicodeError) or type(cause).__name__ in _UNSTORABLE_TEXT_ERRORS
        for cause in _causes(exc)
    )


OUTAGE_RETRY_AFTER_SECONDS = 1
# Raised as themselves (not wrapped in a StatementError) when a connection cannot be made
# or a pool has none to give: connection refused and reset are OSErrors.
OUTAGE_ERRORS: tuple[type[Exception], ...] = (
    OSError,
    PoolTimeoutError,
    RedisConnectionError,
    RedisTimeoutError,
)
# asyncpg's names for "the server went away or is not accepting connections yet".
_OUTAGE_DRIVER_ERRORS = frozenset(
    {
        "ConnectionDoesNotExistError",
        "ConnectionFailureError",
        "CannotConnectNowError",
        "AdminShutdownError",
        "CrashShutdownError",
        "TooManyConnectionsError",
    }
)


def is_outage(exc: BaseException) -> bool:
    """Whether the error means a database or cache did not answer (not bad input, not a bug)."""
    for cause in _causes(exc):
        if isinstance(cause, DBAPIError) and cause.connection_invalidated:
            return True
        if isinstance(cause, (OperationalError, SQLInterfaceError, *OUTAGE_ERRORS)):
            return True
        if type(cause).__name__ in _OUTAGE_DRIVER_ERRORS:
            return True
    return False


# asyncpg's names for "this text cannot be stored" (NUL bytes, unencodable characters).
_UNSTORABLE_TEXT_ERRORS = frozenset(
    {"CharacterNotInRepertoireError", "UntranslatableCharacterError"}
)


# What a route may answer because of a dependency it has (directly or through another), by
# the dependency's name: a route behind an access token may answer 401 (no or bad token) and
# 403 (a role or scope that does not allow it); the release service verifies tokens with the
# identity service's keys, so 503 when it cannot reach them; a route that signs with the
# identity service's key answers 503 when no signing key is active; a route that uses the
# database or the cache answers 503 `dependency_unavailable` while either does not answer.
DEPENDENCY_PROBLEMS: dict[str, frozenset[int]] = {
    "get_session": frozenset({503}),  # shared.deps
    "get_read_session": frozenset({503}),
    "get_log_reader": frozenset({503}),  # shared.audit.endpoints
    "get_cache": frozenset({503}),
    "bearer_token": frozenset({401, 403}),
    "get_principal": frozenset({401, 403}),  # identity service
    "get_reading_principal": frozenset({401, 403}),  # identity service, reading routes
    "get_caller": frozenset({401, 403, 503}),  # release service
    "get_keyring_cache": frozenset({503}),  # identity service
}
# A state change behind a token can meet a state that forbids it (suspended, already done).
_STATE_CHANGES = frozenset({"post", "put", "patch", "delete"})


def document_problems(app: FastAPI) -> None:
    """Make the app's OpenAPI document list the problem answers each route can give.

    Added centrally from what a route is, so that no route has to repeat them: 422 for any
    route with parameters or a body (the default FastAPI validation answer becomes a problem
    document), 404 for a route with path parameters, 413 for a route with a body, those of
    its dependencies (DEPENDENCY_PROBLEMS), and 409 for a state change behind a token. What a
    route declares itself in `responses=` is kept; every 4xx and 5xx is a problem document.
    """
    build = app.openapi
    documented: list[int] = []  # the id of the last document completed here

    def openapi() -> dict[str, Any]:
        # FastAPI builds the document once (again when routes change); complete each build once.
        schema = build()
        if documented[-1:] == [id(schema)]:
            return schema
        # The routes as FastAPI sees them for the document: included routers flattened, with
        # their prefixes and their own dependencies (FastAPI's `get_openapi` walks them alike).
        dependants = {
            (method.lower(), route.path_format): route.dependant
            for route in iter_route_contexts(app.routes)
            if isinstance(route.original_route, APIRoute) and route.include_in_schema
            for method in route.methods or ()
        }
        for path, item in schema.get("paths", {}).items():
            for method, operation in item.items():
                dependant = dependants.get((method, path))
                if dependant is not None:
                    _document_route(operation, dependant, method)
        _drop_unused_validation_schemas(schema)
        documented[:] = [id(schema)]
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _document_route(operation: dict[str, Any], dependant: Dependant, method: str) -> None:
    every = (dependant, *_walk(dependant))
    statuses: set[int] = set()
    if any(d.path_params or d.query_params or d.header_params or d.cookie_params for d in every):
        statuses.add(422)
    if any(d.body_params for d in every):
        statuses |= {413, 422}
    if any(d.path_params for d in every):
        statuses.add(404)
    for d in every:
        statuses |= DEPENDENCY_PROBLEMS.get(_call_name(d.call), frozenset())
    if 401 in statuses and method in _STATE_CHANGES:
        statuses.add(409)
    responses: dict[str, Any] = operation.setdefault("responses", {})
    for status in statuses:
        responses.setdefault(str(status), {"description": HTTPStatus(status).phrase})
    for key, response in responses.items():
        if key[:1] not in "45":
            continue
        if _is_default_or_json(response):
            response["content"] = {PROBLEM_MEDIA_TYPE: {"schema": PROBLEM_SCHEMA}}
        else:
            response["content"].get(PROBLEM_MEDIA_TYPE, {}).setdefault("schema", PROBLEM_SCHEMA)


def _walk(dependant: Dependant) -> Iterator[Dependant]:
    for dependency in dependant.dependencies:
        yield dependency
        yield from _walk(dependency)


def _call_name(call: Callable[..., Any] | None) -> str:
    return getattr(call, "__name__", "")


def _is_default_or_json(response: dict[str, Any]) -> bool:
    """No content documented yet, or FastAPI's JSON validation error: a problem document."""
    content = response.get("content")
    return not content or set(content) == {"application/json"}


def _drop_unused_validation_schemas(schema: dict[str, Any]) -> None:
    """FastAPI's validation error schemas, once no answer refers to them any more."""
    components = schema.get("components", {}).get("schemas", {})
    text = repr(schema.get("paths", {}))
    for name in ("HTTPValidationError", "ValidationError"):
        if name in components and f"#/components/schemas/{name}'" not in text:
            del components[name]
    if "components" in schema and "schemas" in schema["components"] and not components:
        del schema["components"]["schemas"]
