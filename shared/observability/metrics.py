"""Every metric the services export, and the calls that record them where things happen.

The metrics are prometheus-client's, defined once here at import, in its default registry:
that is how the library is meant to be used (a metric is a process-wide series, and in
multiprocess mode its values live in files named by process, `exposition`), so they are not
owned by an app. Tests that build many apps read differences, never absolute values.

Labels are bounded sets: a route *template*, a decision, a reason code, a purpose; never a
container number, an id or a raw path, so a caller cannot grow the series without end.

Gauges say how several processes combine (`multiprocess_mode`, used only when the service
runs several worker processes): the log's size and the timestamps take the largest value
any process wrote (each only grows); connections in use add up over the live processes.
Ages are not gauges that must be kept current: a timestamp is exported, and the age is
`time() - timestamp` in the query (docs/observability.md), right even when nothing happens.
"""

import re
from collections.abc import Callable, Iterable
from typing import Final

from prometheus_client import Counter, Gauge, Histogram
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import QueuePool

#: Seconds; fine around the gate's 50 ms target, coarse beyond a second.
LATENCY_BUCKETS: Final = (
    0.0025,
    0.005,
    0.01,
    0.02,
    0.03,
    0.05,
    0.075,
    0.1,
    0.2,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)

REQUEST_DURATION: Final = Histogram(
    "ketenpas_http_request_duration_seconds",
    "Time from a request's arrival to its response's last byte, by route template and status.",
    ["method", "route", "status"],
    buckets=LATENCY_BUCKETS,
)

GATE_DECISIONS: Final = Counter(
    "ketenpas_gate_decisions",
    "Gate decisions made, by decision (release, inspect, deny).",
    ["decision"],
)
GATE_DECISION_REASONS: Final = Counter(
    "ketenpas_gate_decision_reasons",
    "Reasons given with gate decisions, by decision and reason code (a decision may give several).",
    ["decision", "reason"],
)
INSPECTION_DRAWS: Final = Counter(
    "ketenpas_inspection_draws",
    "Verifiable draws made, by purpose (container, visit) and whether they selected.",
    ["purpose", "selected"],
)

AUDIT_LOG_SIZE: Final = Gauge(
    "ketenpas_audit_log_size",
    "Entries in the audit log's Merkle tree, as the sequencer last integrated it.",
    multiprocess_mode="max",
)
AUDIT_EVENTS_INTEGRATED: Final = Counter(
    "ketenpas_audit_events_integrated",
    "Events the sequencer integrated into the audit log's tree.",
)
AUDIT_CAUGHT_UP: Final = Gauge(
    "ketenpas_audit_sequencer_caught_up_timestamp_seconds",
    "When the sequencer last left no committed event unintegrated; the lag is time() minus it.",
    multiprocess_mode="max",
)
AUDIT_CHECKPOINT_SIGNED: Final = Gauge(
    "ketenpas_audit_checkpoint_signed_timestamp_seconds",
    "When the sequencer last signed a checkpoint (only when the tree grew).",
    multiprocess_mode="max",
)
AUDIT_SIGNING_REFUSED: Final = Counter(
    "ketenpas_audit_signing_refused",
    "Sequencer steps the log's guard refused (a rolled-back or rewritten tree).",
)

IDENTITY_FETCHES: Final = Counter(
    "ketenpas_identity_fetches",
    "Documents fetched from the identity service (keys, status lists, credentials), by outcome.",
    ["outcome"],
)
IDENTITY_UNAVAILABLE: Final = Counter(
    "ketenpas_identity_unavailable",
    "Reads that failed closed: the identity service away and no copy young enough held.",
)
IDENTITY_LAST_FETCH: Final = Gauge(
    "ketenpas_identity_last_fetch_timestamp_seconds",
    "When a document was last fetched from the identity service; the cache's age is "
    "time() minus it.",
    multiprocess_mode="max",
)

WEBHOOK_ATTEMPTS: Final = Counter(
    "ketenpas_webhook_attempts",
    "Webhook sends, by outcome: delivered, retrying (failed, to be sent again), given_up "
    "(failed past the bound: its subscription is failing until a replay arrives).",
    ["outcome"],
)
WEBHOOK_DELIVERED: Final = Gauge(
    "ketenpas_webhook_delivered_timestamp_seconds",
    "When a webhook was last delivered (answered 2xx); time() minus it is how long none was.",
    multiprocess_mode="max",
)

DB_POOL_IN_USE: Final = Gauge(
    "ketenpas_db_pool_connections_in_use",
    "Database connections checked out of the pool now.",
    multiprocess_mode="livesum",
)
DB_POOL_LIMIT: Final = Gauge(
    "ketenpas_db_pool_connections_limit",
    "Connections the pool may hand out at once (pool size and overflow; SQLite: its pool).",
    multiprocess_mode="livesum",
)

# Series that exist from the start, so that a rate over them is 0, not absent.
for _outcome in ("ok", "failed"):
    IDENTITY_FETCHES.labels(_outcome)
for _decision in ("release", "inspect", "deny"):
    GATE_DECISIONS.labels(_decision)
for _outcome in ("delivered", "retrying", "given_up"):
    WEBHOOK_ATTEMPTS.labels(_outcome)

_REASON_CODE = re.compile(r"^[a-z][a-z0-9_]{0,47}$")


def _bounded(code: str) -> str:
    # Reason codes are the service's own constants and the identity service's problem codes
    # passed on; anything else (never seen) is one series, not one per value.
    return code if _REASON_CODE.match(code) else "other"


def gate_decided(decision: str, reasons: Iterable[str]) -> None:
    """Count a gate decision and each reason it gave."""
    GATE_DECISIONS.labels(decision).inc()
    for reason in reasons:
        GATE_DECISION_REASONS.labels(decision, _bounded(reason)).inc()


def inspection_drawn(purpose: str, selected: bool) -> None:
    """Count a verifiable draw."""
    INSPECTION_DRAWS.labels(purpose, "true" if selected else "false").inc()


def sequencer_stepped(
    *, locked: bool, refused: bool, integrated: int, size: int, signed: bool, batch_size: int
) -> None:
    """Record one sequencer step: the log's size, and whether it left nothing behind."""
    if refused:
        AUDIT_SIGNING_REFUSED.inc()
    if not locked or refused:
        return  # another process sequences, or this log is not to be trusted: no news
    if integrated:
        AUDIT_EVENTS_INTEGRATED.inc(integrated)
    if size >= 0:
        AUDIT_LOG_SIZE.set(size)
    if integrated < batch_size:
        AUDIT_CAUGHT_UP.set_to_current_time()
    if signed:
        AUDIT_CHECKPOINT_SIGNED.set_to_current_time()


def identity_fetched(ok: bool) -> None:
    """Count a fetch from the identity service; a success is the cache's newest moment."""
    if ok:
        IDENTITY_FETCHES.labels("ok").inc()
        IDENTITY_LAST_FETCH.set_to_current_time()
    else:
        IDENTITY_FETCHES.labels("failed").inc()


def identity_failed_closed() -> None:
    """Count a read refused because no copy young enough is held."""
    IDENTITY_UNAVAILABLE.inc()


def webhook_attempted(*, delivered: bool, given_up: bool) -> None:
    """A webhook send's outcome, as the dispatcher records it."""
    if delivered:
        WEBHOOK_ATTEMPTS.labels("delivered").inc()
        WEBHOOK_DELIVERED.set_to_current_time()
    else:
        WEBHOOK_ATTEMPTS.labels("given_up" if given_up else "retrying").inc()


def observe_pool(engine: AsyncEngine) -> Callable[[], None]:
    """Follow the engine's pool: a connection checked out counts until it is checked in.

    Returns what stops following it (called before the engine is disposed).
    """
    pool = engine.sync_engine.pool
    limit = 0
    if isinstance(pool, QueuePool):  # both backends' pool; its overflow has no public getter
        limit = pool.size() + max(getattr(pool, "_max_overflow", 0), 0)
    DB_POOL_LIMIT.inc(limit)
    event.listen(pool, "checkout", _checked_out)
    event.listen(pool, "checkin", _checked_in)

    def stop() -> None:
        DB_POOL_LIMIT.dec(limit)
        event.remove(pool, "checkout", _checked_out)
        event.remove(pool, "checkin", _checked_in)

    return stop


def _checked_out(*_: object) -> None:
    DB_POOL_IN_USE.inc()


def _checked_in(*_: object) -> None:
    DB_POOL_IN_USE.dec()
