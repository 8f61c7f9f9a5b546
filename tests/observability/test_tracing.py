"""Tracing: off by default at no cost; on, one trace from the gate through the identity service."""

from collections.abc import Iterator

import httpx
import pytest
from fastapi import FastAPI
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from services.registry import SERVICES
from shared.observability import tracing
from shared.settings import ServiceSettings
from tests.conftest import SettingsFactory
from tests.identity.factories import totp_now
from tests.release.chains import ask_gate, full_chain
from tests.release.port import make_port

# Nothing listens there: the tests put an in-memory exporter in its place.
COLLECTOR = "http://127.0.0.1:4318"


@pytest.fixture
def exported(monkeypatch: pytest.MonkeyPatch) -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()

    def in_memory(_: ServiceSettings) -> InMemorySpanExporter:
        return exporter

    monkeypatch.setattr(tracing, "span_exporter", in_memory)
    yield exporter
    exporter.clear()


def _layers(app: FastAPI) -> list[str]:
    """The classes a request passes through, outermost first."""
    names: list[str] = []
    node: object = app.build_middleware_stack()
    while node is not None and len(names) < 50:
        names.append(type(node).__name__)
        node = getattr(node, "app", None)
    return names


def test_without_an_endpoint_nothing_is_traced(
    make_settings: SettingsFactory, exported: InMemorySpanExporter
) -> None:
    for service in SERVICES:
        app = SERVICES[service].create_app(make_settings(service))
        assert app.state.tracer_provider is None
        assert "OpenTelemetryMiddleware" not in _layers(app)
        traced = SERVICES[service].create_app(make_settings(service, otlp_endpoint=COLLECTOR))
        assert "OpenTelemetryMiddleware" in _layers(traced)
        traced.state.tracer_provider.shutdown()


def test_an_endpoint_that_is_no_url_is_refused(make_settings: SettingsFactory) -> None:
    with pytest.raises(ValueError, match="otlp_endpoint"):
        SERVICES["release"].settings().model_validate({"otlp_endpoint": "collector:4318"})


async def test_a_kiosk_question_is_one_trace_through_the_identity_service(
    make_settings: SettingsFactory, exported: InMemorySpanExporter
) -> None:
    def traced(service: str, **overrides: object) -> ServiceSettings:
        return make_settings(service, otlp_endpoint=COLLECTOR, **overrides)

    async with make_port(traced) as port:
        chain = await full_chain(port, path=("forwarder", "carrier"))
        assert chain.driver is not None
        exported.clear()
        sent = Recording(port.identity_line.inner)
        port.identity_line.inner = sent  # type: ignore[assignment]
        decision = await ask_gate(
            port, chain.container, driver=str(chain.driver.id), otp=totp_now()
        )
        assert decision["decision"] == "release", decision
        for app in (port.release, port.identity):
            assert app.state.tracer_provider.force_flush()
    spans = exported.get_finished_spans()
    gate = _one(spans, SpanKind.SERVER, "POST /v1/gate/decisions")
    assert gate.resource.attributes["service.name"] == "ketenpas-release"
    # The kiosk's gate pass was asked of the identity service with the gate's trace context.
    kiosk = [r for r in sent.requests if r.url.path.endswith("/gate-pass")]
    assert len(kiosk) == 1
    version, trace_id, parent_id, _ = kiosk[0].headers["traceparent"].split("-")
    assert (version, int(trace_id, 16)) == ("00", _trace(gate))
    call = _one(spans, SpanKind.CLIENT, "POST")
    assert call.context is not None and int(parent_id, 16) == call.context.span_id
    # And the identity service continued it: its span of the request is the call's child
    # (INTERNAL here, where the call's span is current in the same process; SERVER across
    # processes, with the parent read from traceparent).
    answered = _one(spans, None, "POST /v1/people/{person_id}/gate-pass")
    assert answered.resource.attributes["service.name"] == "ketenpas-identity"
    assert _trace(answered) == _trace(gate)
    assert answered.parent is not None and answered.parent.span_id == call.context.span_id


class Recording(httpx.AsyncBaseTransport):
    """A transport that keeps each request it passes on."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.requests: list[httpx.Request] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return await self.inner.handle_async_request(request)


def _trace(span: ReadableSpan) -> int:
    assert span.context is not None
    trace_id: int = span.context.trace_id
    return trace_id


def _one(spans: tuple[ReadableSpan, ...], kind: SpanKind | None, name: str) -> ReadableSpan:
    """The one span of that kind (any, for None) and name."""
    found = [s for s in spans if kind in (None, s.kind) and s.name == name]
    assert len(found) == 1, [(s.kind, s.name) for s in spans]
    return found[0]
