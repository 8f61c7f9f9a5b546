"""Metrics for Prometheus and traces for OpenTelemetry (docs/observability.md).

- `metrics`: every metric the services export, and the one-line calls that record them
  where the events happen.
- `middleware`: request latency per route template and status.
- `exposition`: the metrics port, apart from the public one; several worker processes.
- `tracing`: OpenTelemetry when an OTLP endpoint is configured, nothing at all otherwise.
"""
