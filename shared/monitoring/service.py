"""Alerts and their lifecycle, the same rules in both services.

An alert is raised open; an officer of port security acknowledges it (he is looking) and
closes it as `confirmed` or `unfounded` with a reason. Closed is final: nothing reopens or
edits it, and each step is appended to the audit log in the transaction that takes it.
Illegal steps are 409 with a stable code: `alert_not_open` (acknowledging what is not
open), `alert_closed` (closing what is closed already).

The caller owns the transaction; `Changed` tells it to wake the stream's listeners once it
has committed (`stream.wake`).
"""

import uuid
from datetime import datetime
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from shared.audit.events import append
from shared.monitoring import repository
from shared.monitoring.models import Alert, AlertOutcome, AlertStatus, MonitoringRule, Severity
from shared.monitoring.rules import RuleSet, RuleSettings, parse_thresholds
from shared.problems import Conflict, InvalidInput, NotFound


def alert_not_found() -> NotFound:
    """The one answer for an alert that does not exist."""
    return NotFound("alert_not_found", "no such alert")


async def raise_alert(
    session: AsyncSession,
    *,
    kind: str,
    severity: str,
    summary: str,
    facts: dict[str, Any],
    now: datetime,
    rule: str | None = None,
    subject: str | None = None,
    evidence: list[dict[str, Any]] | None = None,
    dedup_key: str | None = None,
) -> uuid.UUID | None:
    """Record an open alert and log it, in the caller's transaction; its id.

    With a `dedup_key`, None when an alert with that key exists already (one alert per
    rule, subject and window, whichever process saw it first).
    """
    level = Severity(severity)  # a caller's typo is a bug, not an alert of no severity
    alert = Alert(
        id=uuid.uuid4(),
        kind=kind,
        severity=level,
        summary=summary,
        facts=facts,
        raised_at=now,
        event_id=uuid.uuid4(),  # replaced below by the logged event's id
        status=AlertStatus.open,
        rule=rule or kind,
        subject=subject,
        evidence=list(evidence or []),
        dedup_key=dedup_key,
    )
    if not await repository.add_alert(session, alert):
        return None
    alert.event_id = await append(
        session,
        "alert.raised",
        {
            "alert_id": str(alert.id),
            "kind": kind,
            "severity": str(level),
            "summary": summary,
            "facts": facts,
            "rule": alert.rule,
            "subject": subject,
            "evidence": alert.evidence,
        },
    )
    session.add(alert)
    await repository.add_change(session, alert.id, "alert.raised", now)
    return alert.id


async def acknowledge(
    session: AsyncSession, *, alert_id: uuid.UUID, actor: str, now: datetime
) -> Alert:
    """An officer takes an open alert up; 409 `alert_not_open` unless it is open."""
    alert = await repository.get_alert(session, alert_id)
    if alert is None:
        raise alert_not_found()
    moved = await repository.transition(
        session,
        alert_id,
        allowed_from=[AlertStatus.open],
        values={
            "status": AlertStatus.acknowledged,
            "acknowledged_by": actor,
            "acknowledged_at": now,
        },
    )
    if not moved:
        await session.refresh(alert)
        raise Conflict("alert_not_open", f"the alert is {alert.status}, not open")
    await append(session, "alert.acknowledged", {"alert_id": str(alert_id), "actor": actor})
    await repository.add_change(session, alert_id, "alert.acknowledged", now)
    await session.refresh(alert)
    return alert


async def close(
    session: AsyncSession,
    *,
    alert_id: uuid.UUID,
    actor: str,
    outcome: AlertOutcome,
    reason: str,
    now: datetime,
) -> Alert:
    """Close an open or acknowledged alert with its outcome and a reason; final.

    409 `alert_closed` when it is closed already (its outcome and reason stay as given).
    """
    if not reason.strip():
        raise InvalidInput("close_reason_required", "say why the alert is closed")
    alert = await repository.get_alert(session, alert_id)
    if alert is None:
        raise alert_not_found()
    moved = await repository.transition(
        session,
        alert_id,
        allowed_from=[AlertStatus.open, AlertStatus.acknowledged],
        values={
            "status": AlertStatus.closed,
            "closed_by": actor,
            "closed_at": now,
            "outcome": outcome,
            "close_reason": reason,
        },
    )
    if not moved:
        raise Conflict("alert_closed", "the alert is closed already; a closure is final")
    await append(
        session,
        "alert.closed",
        {
            "alert_id": str(alert_id),
            "actor": actor,
            "outcome": str(outcome),
            "reason": reason,
        },
    )
    await repository.add_change(session, alert_id, "alert.closed", now)
    await session.refresh(alert)
    return alert


async def rules_now(session: AsyncSession, rules: RuleSet) -> list[RuleSettings]:
    """Every rule of the service with its settings as they are now."""
    return rules.effective(await repository.rule_settings(session))


async def change_rule(
    session: AsyncSession,
    *,
    rules: RuleSet,
    name: str,
    enabled: bool,
    thresholds: dict[str, Any],
    actor: str,
    now: datetime,
) -> RuleSettings:
    """Port security sets a rule's thresholds (merged over its current ones) and whether it
    runs; logged `monitoring.rule_changed` with the settings before and after.

    404 `rule_not_found` for a name the service has no rule of; 422 `thresholds_invalid`.
    """
    rule = rules.get(name)
    if rule is None:
        raise NotFound("rule_not_found", f"no rule named {name!r}")
    current = next(entry for entry in await rules_now(session, rules) if entry.rule is rule)
    merged = parse_thresholds(rule, {**current.thresholds.model_dump(), **thresholds})
    event_id = await append(
        session,
        "monitoring.rule_changed",
        {
            "rule": name,
            "actor": actor,
            "before": {"enabled": current.enabled, "thresholds": current.thresholds.model_dump()},
            "after": {"enabled": enabled, "thresholds": merged.model_dump()},
        },
    )
    await repository.put_rule(
        session,
        MonitoringRule(
            name=name,
            enabled=enabled,
            thresholds=merged.model_dump(),
            changed_by=actor,
            changed_at=now,
            event_id=event_id,
        ),
    )
    return RuleSettings(rule, enabled, merged, actor, now)
