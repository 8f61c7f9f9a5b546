"""Local webhook receivers for the gate benchmark's subscribers (`bench_gate --subscribers`).

Each receiver is a plain HTTP/1.1 server of its own on a free port of 127.0.0.1, in the
benchmark's own event loop (the release service may post to loopback only in development,
over plain HTTP: `shared/webhooks/egress.py`). Two kinds:

- **answering**: reads the request, notes when it came and the CloudEvent's `time` (the
  moment the change was written to the outbox, microseconds included), answers 204 at once
  and keeps the connection for the next request (HTTP/1.1 keep-alive, as web servers do);
- **silent**: accepts the connection, reads the request and never answers: it holds the
  socket open until the sender gives up and closes it (its delivery timeout), or until the
  receivers stop. It counts the connections it holds, and the most at once.

Written here rather than with uvicorn: 50 servers in one process, each a few lines of
asyncio, and a silent one must hold a connection without any framework answering for it
(a timeout, a keep-alive limit). Signatures are not checked here (the webhook tests do
that, with `standardwebhooks`): the benchmark counts and times arrivals.
"""

import asyncio
import contextlib
import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

HEAD_LIMIT = 16_384  # bytes of request line and headers read at most
BODY_LIMIT = 1_048_576  # a delivery's body is far smaller; a larger one is refused
READ_TIMEOUT = 10.0  # a request not read within this is dropped (never from our sender)


@dataclass(frozen=True)
class Receipt:
    """One delivery an answering receiver got: when (wall clock, Unix seconds), the event's
    own time, and its `webhook-id`."""

    received_at: float
    event_time: float
    webhook_id: str

    @property
    def lag(self) -> float:
        """Seconds from the change (the event's time) to its arrival here."""
        return self.received_at - self.event_time


def parse_request(head: bytes) -> tuple[dict[str, str], int]:
    """The headers (lower-case names) of an HTTP/1.1 request head and its content length."""
    lines = head.decode("latin-1").split("\r\n")
    if not lines or len(lines[0].split(" ")) != 3:
        raise ValueError("not an HTTP request line")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    if not 0 <= length <= BODY_LIMIT:
        raise ValueError("content-length out of range")
    return headers, length


def event_time(body: bytes) -> float:
    """The CloudEvent's `time` (RFC 3339, `Z` for UTC) as Unix seconds."""
    value = json.loads(body)["time"]
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()


def quantile(values: Sequence[float], q: float) -> float:
    """The q-quantile (nearest rank) of `values`, NaN if none."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))
    return ordered[rank]


@dataclass
class Receiver:
    """One endpoint: answering (204 at once) or silent (never answers)."""

    silent: bool
    url: str = ""
    receipts: list[Receipt] = field(default_factory=list)
    requests: int = 0  # requests read (a silent receiver's included)
    bad: int = 0  # requests that were not a delivery
    open_now: int = 0  # connections held open now (silent)
    most_open: int = 0
    _server: asyncio.Server | None = None
    _writers: set[asyncio.StreamWriter] = field(default_factory=set)

    async def start(self) -> None:
        """Listen on a free port of 127.0.0.1."""
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}/ketenpas/events"

    async def stop(self) -> None:
        """Stop listening and drop every connection still held."""
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.close()
        if self._server is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._server.wait_closed(), timeout=5)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            while (request := await self._read(reader)) is not None:
                headers, body = request
                self.requests += 1
                if self.silent:
                    await self._hold(reader)
                    return
                received = time.time()
                webhook_id = headers.get("webhook-id", "")
                self.receipts.append(Receipt(received, event_time(body), webhook_id))
                writer.write(b"HTTP/1.1 204 No Content\r\n\r\n")
                await writer.drain()
        except (ValueError, KeyError, TimeoutError, asyncio.IncompleteReadError, OSError):
            self.bad += 1
        finally:
            self._writers.discard(writer)
            writer.close()

    @staticmethod
    async def _read(reader: asyncio.StreamReader) -> tuple[dict[str, str], bytes] | None:
        """The next request on a kept-alive connection, or None when the sender closed it
        between requests (as it does with connections idle past its keep-alive expiry)."""
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as ended:
            if not ended.partial:
                return None
            raise
        if len(head) > HEAD_LIMIT:
            raise ValueError("request head too long")
        headers, length = parse_request(head)
        async with asyncio.timeout(READ_TIMEOUT):
            body = await reader.readexactly(length)
        return headers, body

    async def _hold(self, reader: asyncio.StreamReader) -> None:
        """Never answer: wait until the sender closes the connection (or we stop)."""
        self.open_now += 1
        self.most_open = max(self.most_open, self.open_now)
        try:
            with contextlib.suppress(OSError):
                while await reader.read(4096):
                    pass
        finally:
            self.open_now -= 1


@dataclass
class Receivers:
    """The answering and the silent receivers of one subscribed step."""

    answering: list[Receiver] = field(default_factory=list)
    silent: list[Receiver] = field(default_factory=list)

    @classmethod
    async def started(cls, answering: int, silent: int) -> "Receivers":
        """`answering` + `silent` receivers, listening."""
        receivers = cls(
            [Receiver(silent=False) for _ in range(answering)],
            [Receiver(silent=True) for _ in range(silent)],
        )
        try:
            for receiver in receivers.every:
                await receiver.start()
        except BaseException:
            await receivers.stop()
            raise
        return receivers

    @property
    def every(self) -> list[Receiver]:
        """All of them, answering first."""
        return [*self.answering, *self.silent]

    async def stop(self) -> None:
        """Stop every receiver."""
        for receiver in self.every:
            await receiver.stop()

    def receipts(self, until: float | None = None) -> list[Receipt]:
        """Every delivery the answering receivers got (up to `until`, wall clock)."""
        return [
            receipt
            for receiver in self.answering
            for receipt in receiver.receipts
            if until is None or receipt.received_at <= until
        ]

    def silent_requests(self) -> int:
        """Requests the silent receivers read and never answered."""
        return sum(receiver.requests for receiver in self.silent)

    def silent_most_open(self) -> int:
        """The most connections any one silent receiver held at once."""
        return max((receiver.most_open for receiver in self.silent), default=0)

    def silent_open_now(self) -> int:
        """Connections the silent receivers hold now."""
        return sum(receiver.open_now for receiver in self.silent)

    def bad(self) -> int:
        """Requests that were not a well-formed delivery."""
        return sum(receiver.bad for receiver in self.every)
