"""Port security's alerts: what the two services' monitoring rules raised, acknowledged and
closed by an officer with a reason, and new ones as they happen.

Each service keeps its own alerts (the release service watches the access and audit logs
of releases, the identity service sign-ins and screening), so the page asks both, and the
live feed merges both services' server-sent event streams into one. The feed's event id
names the last change seen of each service (`release:12,identity:3`), so a browser that
reconnects with `Last-Event-ID` misses nothing of either.
"""

import asyncio
import json
import re
import uuid
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import StreamingResponse

from services.web import core
from services.web.api import Api, ApiProblem
from services.web.session import Who

router = APIRouter(prefix="/security/alerts")

SERVICES = ("release", "identity")
WAITING = ("open", "acknowledged")
OUTCOMES = ("confirmed", "unfounded")
# How long one feed connection lives without news: the browser then reconnects with its
# `Last-Event-ID`, so a dropped proxy connection never leaves a page silently deaf.
FEED_IDLE_SECONDS = 25.0
_FEED_ID = re.compile(r"^(?:(release|identity):(\d{1,18}))(?:,(release|identity):(\d{1,18}))?$")


def _port_security(request: Request) -> Who:
    return core.who_may(
        request, lambda person: person.has_party_role("port_security"), "port security"
    )


def _service(name: str) -> str:
    if name not in SERVICES:
        raise ApiProblem(404, "not_found", "no such service", "web")
    return name


@router.get("")
async def alerts(request: Request) -> Response:
    """Alerts still waiting for an officer (open, then acknowledged), newest first, from
    both services; `?status=closed` shows the closed ones with their outcome."""
    _port_security(request)
    wanted = request.query_params.get("status")
    statuses = ("closed",) if wanted == "closed" else WAITING
    found: list[dict[str, Any]] = []
    for service in SERVICES:
        api = core.api(request, service)
        for status in statuses:
            page = await api.get("/v1/alerts", status=status, limit=200)
            found += [{**alert, "service": service} for alert in page.get("alerts", [])]
    found.sort(key=lambda alert: str(alert["raised_at"]), reverse=True)
    return core.render(
        request,
        "security/alerts.html",
        alerts=found,
        closed=wanted == "closed",
        outcomes=OUTCOMES,
    )


@router.post("/{service}/{alert_id}/acknowledge")
async def acknowledge(request: Request, service: str, alert_id: uuid.UUID) -> Response:
    """An officer takes an open alert on (the service logs who and when)."""
    _port_security(request)
    await core.checked_form(request)
    await core.api(request, _service(service)).post(f"/v1/alerts/{alert_id}/acknowledge")
    core.session_of(request).notice = "alert_acknowledged"
    return core.redirect("/security/alerts")


@router.post("/{service}/{alert_id}/close")
async def close(request: Request, service: str, alert_id: uuid.UUID) -> Response:
    """An officer closes an alert as confirmed or unfounded, with his reason."""
    _port_security(request)
    form = await core.checked_form(request)
    body = {"outcome": str(form.get("outcome") or ""), "reason": str(form.get("reason") or "")}
    await core.api(request, _service(service)).post(f"/v1/alerts/{alert_id}/close", body)
    core.session_of(request).notice = "alert_closed"
    return core.redirect("/security/alerts")


@router.get("/stream")
async def stream(request: Request) -> Response:
    """Both services' alert streams as one server-sent event stream (`idle` and
    `max_events` bound it, as the services' own do; the browser reconnects by itself)."""
    _port_security(request)
    after = _resume_from(request.headers.get("last-event-id") or request.query_params.get("after"))
    idle = _bounded(request.query_params.get("idle"), FEED_IDLE_SECONDS)
    feeds = {service: core.api(request, service) for service in SERVICES}
    return StreamingResponse(
        _merged(feeds, after, idle),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


def _resume_from(text: str | None) -> dict[str, int]:
    """The last change seen of each service, from a feed id; nothing (from now on) when the
    id is missing or not one this feed gave."""
    match = _FEED_ID.match((text or "").strip())
    if match is None:
        return {}
    names, numbers = match.group(1, 3), match.group(2, 4)
    return {name: int(number) for name, number in zip(names, numbers, strict=True) if name}


def _bounded(text: str | None, default: float) -> float:
    try:
        value = float(text) if text is not None else default
    except ValueError:
        return default
    return min(max(value, 0.0), default)


async def _merged(feeds: dict[str, Api], after: dict[str, int], idle: float) -> AsyncIterator[str]:
    """Each service's events as they come, tagged with the service; ends when every
    service's stream has ended."""
    queue: asyncio.Queue[tuple[str, dict[str, str]] | None] = asyncio.Queue()
    seen = dict(after)

    async def follow(service: str, api: Api) -> None:
        params: dict[str, Any] = {"idle": idle}
        if service in after:
            params["after"] = after[service]
        try:
            async for event in _events(api.events("/v1/alerts/stream", params)):
                await queue.put((service, event))
        except ApiProblem:
            pass  # the other service's alerts still come; the page lists both anyway
        finally:
            await queue.put(None)

    tasks = [asyncio.create_task(follow(service, api)) for service, api in feeds.items()]
    try:
        running = len(tasks)
        while running:
            item = await queue.get()
            if item is None:
                running -= 1
                continue
            service, event = item
            if "id" in event and event["id"].isdigit():
                seen[service] = int(event["id"])
            data = json.loads(event.get("data") or "{}")
            feed_id = ",".join(f"{name}:{number}" for name, number in sorted(seen.items()))
            yield (
                f"id: {feed_id}\nevent: {event.get('event', 'message')}\n"
                f"data: {json.dumps({**data, 'service': service})}\n\n"
            )
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def _events(lines: AsyncIterator[str]) -> AsyncIterator[dict[str, str]]:
    """Server-sent events from their lines: fields until a blank line; comments dropped."""
    event: dict[str, str] = {}
    async for line in lines:
        if not line:
            if "data" in event:
                yield event
            event = {}
        elif not line.startswith(":"):
            name, _, value = line.partition(":")
            event[name] = value.removeprefix(" ")
