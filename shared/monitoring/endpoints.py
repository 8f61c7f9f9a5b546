"""The alerts and monitoring APIs, built once here and mounted by each service.

A service gives `alerts_router` its own FastAPI dependency for the caller (verified as that
service verifies tokens), its clock, and a hook that records each read where that service
keeps its reads (the release service's access log, the identity service's audit log): a
read of alerts is a read like any other, and the rules watch it. The router judges the
caller (`shared.monitoring.auth`) and records each refusal too: someone outside port
security asking for the alerts, or trying to close one, wants to know what is watched.
"""

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Depends, Header, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import AwareDatetime

from shared.auth import Principal
from shared.deps import ReadSessionDep, SessionDep
from shared.monitoring import repository, service, stream
from shared.monitoring.auth import check_officer, check_reader
from shared.monitoring.evidence import containers_named
from shared.monitoring.models import AlertStatus
from shared.monitoring.rules import RuleSet
from shared.monitoring.schemas import (
    AlertClose,
    AlertPage,
    AlertView,
    RuleList,
    RuleUpdate,
    RuleView,
)
from shared.monitoring.stream import StreamLimits
from shared.paging import check_period, next_cursor, read_cursor
from shared.problems import InvalidInput, Problem, problem_responses


@dataclass(frozen=True)
class Read:
    """One read (or refused attempt) to record: `outcome` is `ok`, `not_found` or `refused`;
    `containers` are those the answer named (an alert's facts), for "who knew?"."""

    action: str
    outcome: str
    results: int = 0
    containers: tuple[str, ...] = ()


#: Records a read: (request, caller, what, now).
ReadRecorder = Callable[[Request, Principal, Read, datetime], Awaitable[None]]

EVENT_STREAM = "text/event-stream"


@dataclass(frozen=True)
class Monitoring:
    """What a service's monitoring endpoints need from its app (`app.state.monitoring`)."""

    rules: RuleSet
    stream_poll_seconds: float = 2.0
    stream_heartbeat_seconds: float = 15.0
    stream_max_seconds: float = 900.0


async def _monitoring(request: Request) -> Monitoring:
    monitoring: Monitoring = request.app.state.monitoring
    return monitoring


def _last_event_id(header: str | None, after: int | None) -> int | None:
    if header is None:
        return after
    if not header.strip().isdigit() or len(header.strip()) > 18:
        raise InvalidInput("last_event_id_invalid", "Last-Event-ID is an id this stream sent")
    return int(header.strip())


def alerts_router(
    *,
    caller: Callable[..., Awaitable[Principal]],
    now: Callable[..., Awaitable[datetime]],
    record: ReadRecorder,
) -> APIRouter:
    """The routes `/v1/alerts…` and `/v1/monitoring/rules…` over the service's own parts."""
    router = APIRouter(tags=["alerts"])
    Caller = Annotated[Principal, Depends(caller)]
    Now = Annotated[datetime, Depends(now)]
    MonitoringDep = Annotated[Monitoring, Depends(_monitoring)]

    def allowed(check: Callable[[Principal], Principal], action: str) -> object:
        """A dependency: the caller if `check` lets him through; else his attempt is
        recorded as `refused` under `action` and he gets the check's 403."""

        async def dependency(request: Request, principal: Caller, moment: Now) -> Principal:
            try:
                return check(principal)
            except Problem:
                await record(request, principal, Read(action, "refused"), moment)
                raise

        return Depends(dependency)

    @router.get(
        "/v1/alerts",
        summary="Alerts, filtered by period, status and kind (port security)",
        responses=problem_responses(401, 403, 422, 503),
    )
    async def list_alerts(
        request: Request,
        principal: Annotated[Principal, allowed(check_reader, "alerts.list")],
        session: ReadSessionDep,
        moment: Now,
        since: AwareDatetime | None = None,
        until: AwareDatetime | None = None,
        status: AlertStatus | None = None,
        kind: Annotated[str | None, Query(max_length=40)] = None,
        cursor: Annotated[str | None, Query(max_length=200)] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    ) -> AlertPage:
        """Alerts raised in [since, until) (either may be left out), oldest first, a page at
        a time; `status=open` lists what still needs looking at."""
        if since is not None and until is not None:
            check_period(since, until)
        found = await repository.list_alerts(
            session,
            since=since,
            until=until,
            status=status,
            kind=kind,
            after=read_cursor(cursor),
            limit=limit,
        )
        views = [AlertView.of(alert) for alert in found]
        await record(request, principal, Read("alerts.list", "ok", len(views)), moment)
        last = views[-1] if len(views) == limit else None
        return AlertPage(
            alerts=views, next=next_cursor(last.raised_at, last.alert_id) if last else None
        )

    @router.get(
        "/v1/alerts/stream",
        summary="Alerts as they are raised and change, as server-sent events (port security)",
        response_class=StreamingResponse,
        # Not in the OpenAPI document: a generated client (or a fuzzer) would wait on an
        # endless body; the contract is in docs/monitoring.md.
        include_in_schema=False,
        responses={
            200: {"content": {EVENT_STREAM: {"schema": {"type": "string"}}}},
            **problem_responses(401, 403, 422, 503),
        },
    )
    async def alert_stream(
        request: Request,
        principal: Annotated[Principal, allowed(check_reader, "alerts.stream")],
        monitoring: MonitoringDep,
        moment: Now,
        last_event_id: Annotated[str | None, Header(max_length=20)] = None,
        after: Annotated[int | None, Query(ge=0)] = None,
        max_events: Annotated[int | None, Query(ge=1, le=100_000)] = None,
        idle: Annotated[float | None, Query(ge=0, le=86400)] = None,
    ) -> StreamingResponse:
        """Each raise, acknowledgement and closure after `Last-Event-ID` (or `after`; neither:
        from now on). Ends after `max_events` events or `idle` seconds without one, if given."""
        start = _last_event_id(last_event_id, after)
        sessions = request.app.state.read_sessions
        if start is None:
            start = await stream.newest_change(sessions)
        await record(request, principal, Read("alerts.stream", "ok"), moment)
        limits = StreamLimits(
            max_events=max_events,
            idle_seconds=idle,
            poll_seconds=monitoring.stream_poll_seconds,
            heartbeat_seconds=monitoring.stream_heartbeat_seconds,
            max_seconds=monitoring.stream_max_seconds,
        )
        events: AsyncIterator[str] = stream.alert_events(
            sessions, request.app.state.cache, after=start, limits=limits
        )
        return StreamingResponse(
            events,
            media_type=EVENT_STREAM,
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    @router.get(
        "/v1/alerts/{alert_id}",
        summary="One alert with its evidence (port security)",
        responses=problem_responses(401, 403, 404, 422, 503),
    )
    async def get_alert(
        request: Request,
        alert_id: uuid.UUID,
        principal: Annotated[Principal, allowed(check_reader, "alerts.read")],
        session: ReadSessionDep,
        moment: Now,
    ) -> AlertView:
        """The alert, its lifecycle and its evidence; 404 `alert_not_found`."""
        alert = await repository.get_alert(session, alert_id)
        if alert is None:  # port security's own typo, not someone else's alert: no refusal
            await record(request, principal, Read("alerts.read", "ok", 0), moment)
            raise service.alert_not_found()
        named = tuple(containers_named(alert.facts))
        await record(request, principal, Read("alerts.read", "ok", 1, named), moment)
        return AlertView.of(alert)

    @router.post(
        "/v1/alerts/{alert_id}/acknowledge",
        summary="Acknowledge an open alert (an officer of port security)",
        responses=problem_responses(401, 403, 404, 409, 422, 503),
    )
    async def acknowledge(
        request: Request,
        alert_id: uuid.UUID,
        principal: Annotated[Principal, allowed(check_officer, "alerts.acknowledge")],
        session: SessionDep,
        moment: Now,
        after_commit: BackgroundTasks,
    ) -> AlertView:
        """Open → acknowledged, logged `alert.acknowledged`; 409 `alert_not_open` otherwise."""
        alert = await service.acknowledge(
            session, alert_id=alert_id, actor=principal.actor, now=moment
        )
        # Background tasks run once the response is out, after the request's commit.
        after_commit.add_task(stream.wake, request.app.state.cache)
        return AlertView.of(alert)

    @router.post(
        "/v1/alerts/{alert_id}/close",
        summary="Close an alert as confirmed or unfounded, with a reason (an officer)",
        responses=problem_responses(401, 403, 404, 409, 422, 503),
    )
    async def close(
        request: Request,
        alert_id: uuid.UUID,
        body: AlertClose,
        principal: Annotated[Principal, allowed(check_officer, "alerts.close")],
        session: SessionDep,
        moment: Now,
        after_commit: BackgroundTasks,
    ) -> AlertView:
        """Open or acknowledged → closed (final), logged `alert.closed`; 409 `alert_closed`
        when it is closed already."""
        alert = await service.close(
            session,
            alert_id=alert_id,
            actor=principal.actor,
            outcome=body.outcome,
            reason=body.reason,
            now=moment,
        )
        after_commit.add_task(stream.wake, request.app.state.cache)
        return AlertView.of(alert)

    @router.get(
        "/v1/monitoring/rules",
        summary="The monitoring rules with their thresholds (port security)",
        responses=problem_responses(401, 403, 503),
    )
    async def list_rules(
        request: Request,
        principal: Annotated[Principal, allowed(check_reader, "monitoring.rules")],
        session: ReadSessionDep,
        monitoring: MonitoringDep,
        moment: Now,
    ) -> RuleList:
        """Every rule: enabled, thresholds now, defaults, who changed it last."""
        entries = await service.rules_now(session, monitoring.rules)
        await record(request, principal, Read("monitoring.rules", "ok", len(entries)), moment)
        return RuleList(rules=[RuleView.of(entry) for entry in entries])

    @router.put(
        "/v1/monitoring/rules/{name}",
        summary="Set a rule's thresholds and whether it runs (an officer of port security)",
        responses=problem_responses(401, 403, 404, 422, 503),
    )
    async def change_rule(
        name: Annotated[str, Depends(_rule_name)],
        body: RuleUpdate,
        principal: Annotated[Principal, allowed(check_officer, "monitoring.rule_change")],
        session: SessionDep,
        monitoring: MonitoringDep,
        moment: Now,
    ) -> RuleView:
        """Logged `monitoring.rule_changed`; 404 `rule_not_found`, 422 `thresholds_invalid`."""
        entry = await service.change_rule(
            session,
            rules=monitoring.rules,
            name=name,
            enabled=body.enabled,
            thresholds=body.thresholds,
            actor=principal.actor,
            now=moment,
        )
        return RuleView.of(entry)

    return router


async def _rule_name(name: str) -> str:
    if len(name) > 40:
        raise InvalidInput("rule_name_invalid", "a rule's name has at most 40 characters")
    return name
