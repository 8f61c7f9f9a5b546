"""Webhook test helpers: a local receiver on 127.0.0.1, subscribing, and driving the
dispatcher with the test's own clock (no sleeps: each look is awaited until answered)."""

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlmodel import col, select

from services.release.webhooks.dispatcher import Dispatcher
from services.release.webhooks.models import Delivery, DeliveryStatus, OutboxEvent
from shared.db import transaction
from shared.models import utcnow
from tests.identity.factories import bearer, client_token
from tests.release.port import Port

# Every type a party that is only a reader (line, forwarder, carrier) may ask for.
READER_TYPES = [
    "nl.ketenpas.release.nomination_received",
    "nl.ketenpas.release.link_accepted",
    "nl.ketenpas.release.link_declined",
    "nl.ketenpas.release.link_withdrawn",
    "nl.ketenpas.release.cancelled",
    "nl.ketenpas.release.expired",
    "nl.ketenpas.release.hold_placed",
    "nl.ketenpas.release.hold_lifted",
    "nl.ketenpas.gate.completed",
]
TERMINAL_TYPES = [*READER_TYPES, "nl.ketenpas.gate.decided", "nl.ketenpas.inspection.selected"]
SECURITY_TYPES = ["nl.ketenpas.inspection.selected", "nl.ketenpas.alert.raised"]


@dataclass
class Received:
    """One request the receiver got."""

    headers: dict[str, str]
    body: bytes

    @property
    def event(self) -> dict[str, Any]:
        """The CloudEvent in the body."""
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed


@dataclass
class Receiver:
    """A plain HTTP/1.1 receiver on 127.0.0.1 answering `status` (204 by default)."""

    status: int = 204
    received: list[Received] = field(default_factory=list)
    url: str = ""
    # While set, a request is held unanswered until the event is set (a subscriber that
    # does not answer); `waiting` counts the requests held.
    hold: asyncio.Event | None = None
    waiting: int = 0

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")[1:]
            headers = {}
            for line in lines:
                name, sep, value = line.partition(":")
                if sep:
                    headers[name.strip().lower()] = value.strip()
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            if self.hold is not None:
                self.waiting += 1
                await self.hold.wait()
            status = self.status
            if 200 <= status < 300:
                self.received.append(Received(headers, body))
            writer.write(
                f"HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".encode()
            )
            await writer.drain()
        finally:
            writer.close()

    @asynccontextmanager
    async def running(self) -> AsyncIterator["Receiver"]:
        """Listen on a free port of 127.0.0.1 for the block."""
        server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}/hook"
        try:
            yield self
        finally:
            server.close()
            await server.wait_closed()

    def types(self) -> list[str]:
        """The event types received, in order."""
        return [item.event["type"] for item in self.received]


async def manager_headers(port: Port, name: str) -> dict[str, str]:
    """A member's API client with the scope to manage subscriptions (and its others)."""
    member = port[name]
    token = await client_token(
        port.identity, member.party, ["releases:read", "subscriptions:manage"]
    )
    return bearer(token)


async def subscribe(port: Port, name: str, url: str, types: list[str]) -> dict[str, Any]:
    """Subscribe a member to event types; the answer (with its secret)."""
    response = await port.client.post(
        "/v1/subscriptions",
        json={"url": url, "event_types": types},
        headers=await manager_headers(port, name),
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def dispatcher(port: Port) -> Dispatcher:
    """The release service's dispatcher (not running on its own in tests)."""
    found: Dispatcher = port.release.state.webhook_dispatcher
    return found


async def deliver(port: Port, now: datetime | None = None, *, looks: int = 50) -> None:
    """Look (fan out and send) at `now` until nothing is due then, each look answered."""
    moment = now or utcnow()
    for _ in range(looks):
        report = await dispatcher(port).tick(moment)
        await dispatcher(port).drain()
        if report.sent == 0 and report.made == 0:
            return
    raise AssertionError(f"deliveries still due after {looks} looks")


async def until(condition: Callable[[], bool], *, seconds: float = 30.0) -> None:
    """Wait until `condition` holds, looking between other tasks' steps; fail after a
    bounded time (a deadline against a hang, not a timing assumption)."""
    deadline = asyncio.get_running_loop().time() + seconds
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.005)


async def deliveries(port: Port) -> list[Delivery]:
    """Every delivery made, in event order."""
    async with transaction(port.release.state.sessions) as session:
        statement = select(Delivery).order_by(col(Delivery.outbox_id))
        return list((await session.exec(statement)).all())


async def outbox(port: Port) -> list[OutboxEvent]:
    """Every outbox event, in order."""
    async with transaction(port.release.state.sessions) as session:
        statement = select(OutboxEvent).order_by(col(OutboxEvent.id))
        return list((await session.exec(statement)).all())


def pending(rows: list[Delivery]) -> list[Delivery]:
    """The deliveries not yet delivered or given up."""
    return [row for row in rows if row.status == DeliveryStatus.pending]
