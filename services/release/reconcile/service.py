"""Reconciliation: replay the signed audit log and compare it with the tables it wrote.

Holds, release status and gate-outs are rows a database administrator can edit; the audit
log is not (its events are committed to a Merkle tree whose checkpoints the service signs).
So the events under the newest signed checkpoint are replayed (each re-hashed against its
commitment, the commitments folded into the tree and the root compared with the signed
one: only what the signature covers is trusted), what they imply is compared with the
tables, and every difference is named by table and primary key (`compare`).

Events not yet under a signed checkpoint are replayed after the signed ones, since their
rows are in the tables already: a difference they explain is not raised, and the report
counts them as pending (the next run, once the sequencer has signed them, trusts them). A
difference the whole log does not explain is a mismatch, and a new set of mismatches is a
critical alert (`reconcile.mismatch`) naming the rows. Each run logs `reconcile.completed`
with a digest of its differences: an unchanged set is not alerted again.

The access log is checked on the same run (`AccessLogCheck`): its rows against the seals
the audit log holds (`services.release.access.verify`), each range that differs named like a
row of the tables, so an edited or deleted record of who read what is alerted the same way.

Everything is read on one snapshot, so a change committed while the run reads is seen with
its event or not at all, never half.
"""

import hashlib
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import structlog
from sqlmodel.ext.asyncio.session import AsyncSession

from services.release.access.verify import AccessLogProblem, verify_access_log
from services.release.alerts.service import raise_alert
from services.release.reconcile import compare, repository
from services.release.reconcile.compare import Difference
from services.release.reconcile.replay import COMPLETED_EVENT, Replay, may_matter
from shared.audit import repository as audit_repository
from shared.audit.events import append, canonical_json, commitment
from shared.audit.sequencer import lock_key
from shared.audit.service import AuditLog
from shared.db import SessionFactory, transaction
from shared.models import utcnow
from shared.tlog.checkpoint import open_checkpoint
from shared.tlog.merkle import CompactRange, leaf_hash
from shared.tlog.note import parse_verifier_key

logger = structlog.get_logger(__name__)

ALERT_KIND = "reconcile.mismatch"
# An alert names at most this many rows (the count says how many there are); the CLI prints
# them all.
ALERT_ROWS = 50
SUMMARY_LENGTH = 500
PAGE = 5000
PENDING_NAMED = 100


@dataclass
class Report:
    """What one reconciliation found."""

    signed_size: int
    root: str | None  # the signed root (hex), None without a valid checkpoint
    releases: int = 0
    applied: int = 0  # release events replayed (signed and pending)
    pending_events: int = 0
    pending_releases: set[uuid.UUID] = field(default_factory=set)
    differences: list[Difference] = field(default_factory=list)
    last_completed: dict[str, Any] | None = None

    @property
    def digest(self) -> str | None:
        """SHA-256 (hex) of the differences in a stable order; None when there are none."""
        if not self.differences:
            return None
        ordered = sorted(self.differences, key=Difference.sort_key)
        body = canonical_json({"differences": [d.as_json() for d in ordered]})
        return hashlib.sha256(body).hexdigest()

    def counts(self) -> dict[str, int]:
        """Differences by table."""
        by_table: dict[str, int] = {}
        for difference in self.differences:
            by_table[difference.table] = by_table.get(difference.table, 0) + 1
        return by_table


@dataclass(frozen=True)
class AccessLogCheck:
    """Check the access log against its seals too: its retention (a purge within it is a
    difference) and, for a scheduled run, the first month to check (None: every month)."""

    retention_months: int
    since_month: str | None = None


def _access_difference(problem: AccessLogProblem) -> Difference:
    key: dict[str, Any] = {"first_id": problem.first_id, "last_id": problem.last_id}
    if problem.month is not None:
        key["month"] = problem.month
    return Difference("access_log", key, problem.code, stored={"detail": problem.detail})


def _audit(problem: str, **key: Any) -> Difference:
    return Difference("audit_events", key, problem)


def _gap(first: int, end: int) -> Difference:
    """Indexes [first, end) missing: one difference per gap, however long (a truncated
    table would otherwise name every event)."""
    if end - first == 1:
        return _audit("missing", log_index=first)
    return _audit("missing", log_index_from=first, log_index_to=end - 1)


async def _signed_size(
    session: AsyncSession, log: AuditLog, report_problems: list[Difference]
) -> tuple[int, bytes | None]:
    """The size and root of the newest checkpoint, if its signature holds."""
    latest = await audit_repository.latest_checkpoint(session)
    if latest is None:
        return 0, None
    try:
        checkpoint = open_checkpoint(latest.note, parse_verifier_key(log.verifier_key), log.origin)
    except ValueError as exc:
        report_problems.append(
            Difference(
                "audit_checkpoints",
                {"id": latest.id},
                "signature_invalid",
                stored={"size": latest.size, "detail": str(exc)},
            )
        )
        return 0, None
    return checkpoint.size, checkpoint.root_hash


async def _replay_signed(
    session: AsyncSession, replay: Replay, *, size: int, root: bytes, page: int
) -> list[Difference]:
    """Replay the events under the signed checkpoint, checking each against the tree."""
    found: list[Difference] = []
    tree = CompactRange.empty()
    whole = True  # False once an index is missing: the root can no longer be recomputed
    expected_index = 0  # carried across pages, so that a gap over several is named once
    for first in range(0, size, page):
        end = min(first + page, size)
        for log_index, salt, committed, event in await repository.integrated_page(
            session, first, end
        ):
            if log_index != expected_index:
                found.append(_gap(expected_index, log_index))
                whole = False
            expected_index = log_index + 1
            if whole:
                tree.append(leaf_hash(committed))
            if commitment(salt, event.encode()) != committed:
                found.append(_audit("altered", log_index=log_index))
                continue  # an altered event is not replayed
            if may_matter(event):
                replay.apply(json.loads(event))
    if expected_index < size:
        found.append(_gap(expected_index, size))
        whole = False
    if whole and tree.root() != root:
        found.append(
            Difference(
                "audit_events",
                {"log_index_below": size},
                "root_differs",
                stored={"detail": "the stored events do not make the signed root"},
            )
        )
    return found


async def _replay_pending(
    session: AsyncSession, replay: Replay, report: Report, *, page: int
) -> None:
    async for text in repository.pending_events(session, signed_size=report.signed_size, page=page):
        report.pending_events += 1
        if may_matter(text):
            touched = replay.apply(json.loads(text))
            if touched is not None:
                report.pending_releases.add(touched)


async def reconcile(
    session: AsyncSession,
    *,
    log: AuditLog,
    page: int = PAGE,
    access_log: AccessLogCheck | None = None,
) -> Report:
    """Compare the tables with the log, on the session's snapshot (`begin_snapshot`)."""
    problems: list[Difference] = []
    size, root = await _signed_size(session, log, problems)
    report = Report(signed_size=size, root=root.hex() if root is not None else None)
    replay = Replay()
    if root is not None:
        problems.extend(await _replay_signed(session, replay, size=size, root=root, page=page))
    await _replay_pending(session, replay, report, page=page)
    problems.extend(
        Difference("gate_outs", {"release_id": str(release_id)}, "out_when_not_allowed", log=then)
        for release_id, then in replay.impossible
    )
    expected = replay.releases
    problems.extend(await compare.releases(expected, repository.release_rows(session, page=page)))
    problems.extend(await compare.holds(expected, repository.hold_rows(session, page=page)))
    problems.extend(await compare.gate_outs(expected, repository.gate_out_rows(session, page=page)))
    if access_log is not None:
        found = await verify_access_log(
            session,
            retention_months=access_log.retention_months,
            since_month=access_log.since_month,
        )
        problems.extend(_access_difference(problem) for problem in found)
    report.differences = sorted(problems, key=Difference.sort_key)
    report.releases = sum(1 for release in expected.values() if release.created)
    report.applied = replay.applied
    report.last_completed = replay.last_completed
    return report


def _summary(report: Report) -> str:
    count = len(report.differences)
    head = f"the tables differ from the audit log in {count} row(s): "
    text = head + "; ".join(d.describe() for d in report.differences[:5])
    return text if len(text) <= SUMMARY_LENGTH else text[: SUMMARY_LENGTH - 1] + "…"


def alert_facts(report: Report) -> dict[str, Any]:
    """What a mismatch alert carries: the rows (up to ALERT_ROWS), counts, the checkpoint."""
    return {
        "digest": report.digest,
        "count": len(report.differences),
        "by_table": report.counts(),
        "differences": [d.as_json() for d in report.differences[:ALERT_ROWS]],
        "more": max(0, len(report.differences) - ALERT_ROWS),
        "checkpoint": {"size": report.signed_size, "root": report.root},
        "pending_events": report.pending_events,
    }


async def record(
    session: AsyncSession, report: Report, *, actor: str, now: datetime
) -> uuid.UUID | None:
    """Log the run (`reconcile.completed`) and raise an alert for a new set of differences;
    the alert's id, None when none was raised (no differences, or the same as last run)."""
    digest = report.digest
    previous = (report.last_completed or {}).get("digest")
    alert_id = None
    if digest is not None and digest != previous:
        alert_id = await raise_alert(
            session,
            kind=ALERT_KIND,
            severity="critical",
            summary=_summary(report),
            facts=alert_facts(report),
            now=now,
        )
    if digest is not None:
        logger.error(
            "reconcile_mismatch",
            differences=len(report.differences),
            digest=digest,
            alerted=alert_id is not None,
        )
    await append(
        session,
        COMPLETED_EVENT,
        {
            "digest": digest,
            "differences": len(report.differences),
            "by_table": report.counts(),
            "alert_id": str(alert_id) if alert_id else None,
            "checkpoint_size": report.signed_size,
            "releases": report.releases,
            "pending_events": report.pending_events,
            "actor": actor,
        },
    )
    return alert_id


@dataclass(frozen=True)
class Outcome:
    """A run's report, and the alert it raised (None when none)."""

    report: Report
    alert_id: uuid.UUID | None


def reconcile_lock(log: AuditLog) -> int:
    """The advisory-lock key of one log's reconciliation (not the sequencer's)."""
    return lock_key(log.origin + "#reconcile")


async def run(
    read_sessions: SessionFactory,
    sessions: SessionFactory,
    *,
    log: AuditLog,
    actor: str,
    clock: Callable[[], datetime] = utcnow,
    page: int = PAGE,
    access_log: AccessLogCheck | None = None,
) -> Outcome | None:
    """Reconcile on one snapshot and record the outcome; None when another process is
    reconciling the same log right now (PostgreSQL)."""
    async with read_sessions() as reading, reading.begin():
        await repository.begin_snapshot(reading)
        if not await repository.try_lock(reading, reconcile_lock(log)):
            return None
        report = await reconcile(reading, log=log, page=page, access_log=access_log)
        # Written while the lock is held, so the next run's snapshot sees this run's event.
        async with transaction(sessions) as writing:
            alert_id = await record(writing, report, actor=actor, now=clock())
    return Outcome(report, alert_id)
