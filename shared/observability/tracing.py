"""OpenTelemetry tracing, when an OTLP endpoint is configured; nothing at all when not.

With `OTLP_ENDPOINT` empty (the default) no OpenTelemetry module is even imported and no
middleware is added: tracing costs nothing. With it set, the app gets its own tracer
provider (`app.state.tracer_provider`, not the process-wide one, so that apps built in one
process, as the tests do, keep their spans apart) that samples `OTLP_SAMPLE_RATIO` of new
traces (a request that arrives with a sampled parent is traced whatever the ratio) and sends
batches to `<OTLP_ENDPOINT>/v1/traces` (OTLP over HTTP). The FastAPI instrumentation makes a
server span of each request, continuing a W3C `traceparent` that came with it; `trace_client`
instruments an httpx client the service calls another with (the release service's client
of the identity service), which adds `traceparent` to each outgoing request: one trace from
the gate through the identity service.

Spans carry the method, route and path of each request (a path may name a container or a
release), never headers or bodies; the collector is the deployment's own.
"""

from typing import TYPE_CHECKING, Any

import httpx
from fastapi import FastAPI

from shared.settings import ServiceSettings

if TYPE_CHECKING:
    from opentelemetry.sdk.trace.export import SpanExporter

# Probes answer every few seconds and say nothing a trace would help with.
_NOT_TRACED = "/healthz,/readyz"


def span_exporter(settings: ServiceSettings) -> "SpanExporter":
    """Where spans go: the OTLP/HTTP endpoint of the settings (tests put another here)."""
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter(endpoint=settings.otlp_endpoint.rstrip("/") + "/v1/traces")


def install_tracing(app: FastAPI, settings: ServiceSettings) -> None:
    """Trace the app's requests if the settings name an OTLP endpoint; else do nothing."""
    app.state.tracer_provider = None
    if not settings.otlp_endpoint:
        return
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.sdk.trace.sampling import ParentBasedTraceIdRatio

    provider = TracerProvider(
        resource=Resource.create({"service.name": f"ketenpas-{settings.service_name}"}),
        sampler=ParentBasedTraceIdRatio(settings.otlp_sample_ratio),
    )
    provider.add_span_processor(BatchSpanProcessor(span_exporter(settings)))
    FastAPIInstrumentor.instrument_app(
        app,
        tracer_provider=provider,
        excluded_urls=_NOT_TRACED,
        # Only the request's own span: one per ASGI message (receive, send) triples the
        # spans and tells nothing an operator acts on.
        exclude_spans=["receive", "send"],
    )
    app.state.tracer_provider = provider


def trace_client(app: FastAPI, client: httpx.AsyncClient) -> None:
    """Carry the trace on requests `client` makes (a span each, `traceparent` sent), when
    the app is traced; else leave the client as it is."""
    provider: Any = getattr(app.state, "tracer_provider", None)
    if provider is None:
        return
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

    HTTPXClientInstrumentor.instrument_client(client, tracer_provider=provider)


def shutdown_tracing(app: FastAPI) -> None:
    """Send the spans still held and stop the exporter (at the app's shutdown)."""
    provider: Any = getattr(app.state, "tracer_provider", None)
    if provider is not None:
        provider.shutdown()
