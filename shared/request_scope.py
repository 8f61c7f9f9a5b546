"""Which endpoint a read came through, without every handler having to say so (both
services: the release service's access log, the identity service's `security.read` events).

A pure ASGI middleware keeps the request's scope in a context variable; Starlette's router
adds the matched route to that same scope before the handler runs, so a record of a read
written while the request is handled can name the route's method and path template
(`GET /v1/releases/{release_id}`): the template, not the path, so a container number in a
path is not repeated and entries of one endpoint group together.
"""

from contextvars import ContextVar
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

_scope: ContextVar[Scope | None] = ContextVar("ketenpas_request_scope", default=None)


class RememberRequestScope:
    """Keep each HTTP request's scope where `current_endpoint` finds it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        token = _scope.set(scope)
        try:
            await self.app(scope, receive, send)
        finally:
            _scope.reset(token)


def current_app_state() -> Any | None:
    """The state of the app handling the request (its cache, ...); None outside one."""
    scope = _scope.get()
    app = scope.get("app") if scope is not None else None
    return getattr(app, "state", None)


def current_endpoint() -> str | None:
    """`METHOD /path/{template}` of the request being handled; None outside a request."""
    scope = _scope.get()
    if scope is None:
        return None
    route = scope.get("route")
    path = getattr(route, "path", None)
    if not isinstance(path, str):
        return None
    return f"{scope['method']} {path}"[:200]
