"""Helpers of the monitoring tests: raise an alert, run the rules, read what was raised."""

import json
import uuid
from typing import Any

from fastapi import FastAPI
from sqlmodel import col, select

from shared.audit.events import append
from shared.audit.models import AuditEvent
from shared.db import transaction
from shared.models import utcnow
from shared.monitoring.models import Alert
from shared.monitoring.runner import LookReport, RuleRunner
from shared.monitoring.service import raise_alert
from tests.audit_helpers import integrate_all


async def raise_one(app: FastAPI, kind: str = "test_alert", **fields: Any) -> uuid.UUID:
    """An open alert raised in the app's database, as a service's code raises one."""
    async with transaction(app.state.sessions) as session:
        alert_id = await raise_alert(
            session,
            kind=kind,
            severity=fields.pop("severity", "medium"),
            summary=fields.pop("summary", "something to look at"),
            facts=fields.pop("facts", {"why": "a test"}),
            now=utcnow(),
            **fields,
        )
    assert alert_id is not None
    return alert_id


async def look(app: FastAPI) -> LookReport:
    """The sequencer integrates what is pending (the audit log is followed in log order),
    then the runner looks."""
    await integrate_all(app)
    return await runner(app).step()


def runner(app: FastAPI) -> RuleRunner:
    """The app's rule runner (not running in tests: driven by `step` and `sweep`)."""
    found: RuleRunner = app.state.rule_runner
    return found


async def alerts(app: FastAPI, rule: str | None = None) -> list[Alert]:
    """The app's alerts, oldest first, of one rule if named."""
    statement = select(Alert).order_by(col(Alert.raised_at), col(Alert.id))
    if rule is not None:
        statement = statement.where(col(Alert.rule) == rule)
    async with transaction(app.state.sessions) as session:
        return list((await session.exec(statement)).all())


async def log(app: FastAPI, event_type: str, facts: dict[str, Any]) -> uuid.UUID:
    """An event appended to the app's audit log, as the service's own code appends it."""
    async with transaction(app.state.sessions) as session:
        return await append(session, event_type, facts)


async def events(app: FastAPI, event_type: str) -> list[dict[str, Any]]:
    """The facts of the app's audit events of one type, oldest first."""
    statement = (
        select(AuditEvent.event)
        .where(col(AuditEvent.event_type) == event_type)
        .order_by(col(AuditEvent.id))
    )
    async with transaction(app.state.sessions) as session:
        return [json.loads(text) for text in (await session.exec(statement)).all()]
