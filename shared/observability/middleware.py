"""Request latency per route template, method and status: a small pure ASGI middleware.

Written here rather than taken from prometheus-fastapi-instrumentator: that library finds a
request's route by matching the path against the app's routes once more, exports metrics
under its own names and adds per-request work the gate's hot path does not need. The
router has already matched the route and put it in the request's scope (`scope["route"]`,
as `shared.request_scope` reads it too), so its template costs one dictionary read. A path
no route matched is one series (`route="unmatched"`), so made-up paths add no series.

The cost per request is measured by `loadtests/bench_observability.py`
(docs/observability.md).
"""

import time
from typing import Final

from prometheus_client import Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.observability.metrics import REQUEST_DURATION

UNMATCHED: Final = "unmatched"
# Any token is a valid method on the wire: others are one series.
_METHODS: Final = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class RequestMetrics:
    """Observe each HTTP request's duration under (method, route template, status)."""

    def __init__(self, app: ASGIApp, histogram: Histogram = REQUEST_DURATION) -> None:
        self.app = app
        self._histogram = histogram
        # (method, route, status) -> the histogram's child: prometheus-client checks and
        # looks up label values under a lock at each `labels` call; a dict read is cheaper.
        self._children: dict[tuple[str, str, int], Histogram] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the server answers if the app fails before it starts a response

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = getattr(scope.get("route"), "path", None)
            method = scope["method"] if scope["method"] in _METHODS else "other"
            key = (method, route if isinstance(route, str) else UNMATCHED, status)
            child = self._children.get(key)
            if child is None:
                child = self._histogram.labels(key[0], key[1], str(status))
                self._children[key] = child
            child.observe(time.perf_counter() - started)
