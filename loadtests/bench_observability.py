"""Micro-benchmark: what metrics and tracing cost per request.

Run: `.venv/bin/python -m loadtests.bench_observability [--requests N] [--rounds R]`

One small FastAPI app with a route like the gate's (`POST /v1/gate/decisions`, a JSON body
in, a JSON answer out, no database), called straight through ASGI (no sockets, no HTTP
parsing), so that what differs between the variants is the middleware alone:

- `plain`: no metrics port, no OTLP endpoint (the default);
- `metrics`: `shared.observability.middleware.RequestMetrics`, as with `METRICS_PORT` set;
- `metrics+gate counters`: the same and the handler counts a decision and a draw, as the gate does;
- `tracing`: the FastAPI instrumentation as `OTLP_ENDPOINT` installs it, spans handed to
  an exporter that drops them (the OTLP export runs in a background thread in production);
  once with every trace sampled, once with `OTLP_SAMPLE_RATIO=0.1`.

The variants run interleaved, `--rounds` times `--requests` requests each; the fastest
round's time per request is printed (the least disturbed by whatever else runs on the
machine), with the median beside it, and the difference to `plain`. Bounded: a few seconds.
"""

import argparse
import asyncio
import json
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

from fastapi import FastAPI
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.observability import metrics
from shared.observability.middleware import RequestMetrics
from shared.settings import ServiceSettings


class _Dropped(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def _app(*, counters: bool) -> FastAPI:
    app = FastAPI()

    @app.post("/v1/gate/decisions", status_code=201)
    async def decide(body: dict[str, Any]) -> dict[str, Any]:
        if counters:
            metrics.inspection_drawn("container", False)
            metrics.gate_decided("release", ())
        return {"decision": "release", "container": body.get("container"), "reasons": []}

    return app


def _traced(ratio: float) -> FastAPI:
    from shared.observability import tracing

    app = _app(counters=False)
    tracing.span_exporter = lambda _settings: _Dropped()  # type: ignore[assignment]
    settings = ServiceSettings(
        service_name="bench", otlp_endpoint="http://127.0.0.1:4318", otlp_sample_ratio=ratio
    )
    tracing.install_tracing(app, settings)
    return app


class _Route:
    path = "/v1/gate/decisions"


async def _bare(scope: Scope, receive: Receive, send: Send) -> None:
    """An ASGI app that does nothing but answer, as a router would after matching."""
    scope["route"] = _Route
    await receive()
    await send({"type": "http.response.start", "status": 201, "headers": []})
    await send({"type": "http.response.body", "body": b"{}"})


BARE: dict[str, Callable[[], ASGIApp]] = {
    "bare ASGI app": lambda: _bare,
    "bare + metrics": lambda: RequestMetrics(_bare),
}
VARIANTS: dict[str, Callable[[], ASGIApp]] = {
    "plain": lambda: _app(counters=False),
    "metrics": lambda: RequestMetrics(_app(counters=False)),
    "metrics+gate counters": lambda: RequestMetrics(_app(counters=True)),
    "tracing": lambda: _traced(1.0),
    "tracing, 10% sampled": lambda: _traced(0.1),
}

_BODY = json.dumps({"container": "MSCU1234565", "gate_pass": "x" * 300}).encode()
_SCOPE: dict[str, Any] = {
    "type": "http",
    "asgi": {"version": "3.0"},
    "http_version": "1.1",
    "method": "POST",
    "scheme": "http",
    "path": "/v1/gate/decisions",
    "raw_path": b"/v1/gate/decisions",
    "root_path": "",
    "query_string": b"",
    "headers": [(b"content-type", b"application/json"), (b"host", b"bench")],
    "client": ("127.0.0.1", 40000),
    "server": ("127.0.0.1", 8002),
}


async def _run(app: ASGIApp, requests: int) -> float:
    """Seconds per request over `requests` requests."""

    async def receive() -> Message:
        return {"type": "http.request", "body": _BODY, "more_body": False}

    statuses: list[int] = []

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    started = time.perf_counter()
    for _ in range(requests):
        await app(dict(_SCOPE, headers=list(_SCOPE["headers"])), receive, send)
    elapsed = time.perf_counter() - started
    assert set(statuses) == {201}, set(statuses)
    return elapsed / requests


async def main(requests: int, rounds: int) -> None:
    """Print the time per request of each variant and its cost over the first of its group."""
    for group in (BARE, VARIANTS):
        await _compare(group, requests, rounds)
        print()


async def _compare(group: dict[str, Callable[[], ASGIApp]], requests: int, rounds: int) -> None:
    apps = {name: build() for name, build in group.items()}
    for app in apps.values():
        await _run(app, 200)  # warm: routes compiled, children made
    times: dict[str, list[float]] = {name: [] for name in apps}
    for _ in range(rounds):
        for name, app in apps.items():
            times[name].append(await _run(app, requests))
    plain = min(next(iter(times.values())))
    print(f"{'variant':<24} {'µs/request':>11} {'added µs':>9} {'median µs':>10}")
    for name, measured in times.items():
        best, median = min(measured), statistics.median(measured)
        print(f"{name:<24} {best * 1e6:>11.1f} {(best - plain) * 1e6:>9.1f} {median * 1e6:>10.1f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=15)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.requests, arguments.rounds))
