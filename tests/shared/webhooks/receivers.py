"""Real HTTP(S) receivers on 127.0.0.1 for the sender's tests, each with one behaviour.

A receiver is a plain asyncio server (no framework), so a test decides byte by byte what a
hostile or slow endpoint does: answer, redirect, never answer, trickle, or send a body that
never ends. It records every connection and request it gets (and the SNI name under TLS), so
a test can show that a refused delivery made no connection at all.
"""

import asyncio
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self, TypeVar


@dataclass(frozen=True)
class Seen:
    """One request as the receiver read it."""

    method: str
    target: str
    headers: dict[str, str]  # lower-case names
    body: bytes


Behaviour = Callable[[Seen, asyncio.StreamWriter, "Receiver"], Awaitable[None]]


def answer(status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> Behaviour:
    """Answer every request with this status, body and headers (and close the connection,
    unless the receiver keeps connections alive)."""

    async def behave(_seen: Seen, writer: asyncio.StreamWriter, receiver: "Receiver") -> None:
        lines = [f"HTTP/1.1 {status} X", f"content-length: {len(body)}"]
        lines += [] if receiver.keep_alive else ["connection: close"]
        lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        await writer.drain()

    return behave


async def never_answer(_seen: Seen, _writer: asyncio.StreamWriter, receiver: "Receiver") -> None:
    """Read the request and say nothing, until the receiver stops."""
    await receiver.stopped.wait()


async def trickle(_seen: Seen, writer: asyncio.StreamWriter, receiver: "Receiver") -> None:
    """Send the status line a byte at a time, forever: every read gets a byte in time, so
    only a deadline over the whole attempt stops it."""
    line = b"HTTP/1.1 200 OK\r\nx-slow: " + b"a" * 1_000_000
    for byte in line:
        if receiver.stopped.is_set():
            return
        writer.write(bytes([byte]))
        await writer.drain()
        await asyncio.sleep(0.05)  # the endpoint's slowness, simulated; no test waits on it


async def endless_body(_seen: Seen, writer: asyncio.StreamWriter, receiver: "Receiver") -> None:
    """A 200 whose body never ends (no length, close-delimited), counting what it sends."""
    writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\nconnection: close\r\n\r\n")
    chunk = b"x" * 65536
    try:
        while not receiver.stopped.is_set():
            writer.write(chunk)
            await writer.drain()
            receiver.body_bytes_sent += len(chunk)
    except (ConnectionError, OSError):
        receiver.peer_closed.set()  # the sender stopped reading and hung up


@dataclass
class Receiver:
    """A local receiver; `async with Receiver(answer(204)) as r:` then post to `r.url()`."""

    behaviour: Behaviour
    ssl_context: ssl.SSLContext | None = None
    # Serve one request after another on a connection, as most web servers do.
    keep_alive: bool = False
    requests: list[Seen] = field(default_factory=list)
    connections: int = 0
    sni_names: list[str | None] = field(default_factory=list)
    body_bytes_sent: int = 0
    stopped: asyncio.Event = field(default_factory=asyncio.Event)
    peer_closed: asyncio.Event = field(default_factory=asyncio.Event)
    _server: asyncio.Server | None = None
    _port: int = 0
    _tasks: set[asyncio.Task[Any]] = field(default_factory=set)

    @property
    def port(self) -> int:
        """The port the receiver listens on."""
        return self._port

    def url(self, path: str = "/hook", *, host: str = "127.0.0.1") -> str:
        """The receiver's URL, under another name if `host` is given (resolved by a stub)."""
        scheme = "https" if self.ssl_context else "http"
        return f"{scheme}://{host}:{self.port}{path}"

    async def __aenter__(self) -> Self:
        if self.ssl_context is not None:
            self.ssl_context.sni_callback = self._record_sni
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self.ssl_context)
        self._port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(
        self,
        _type: type[BaseException] | None,
        _exc: BaseException | None,
        _tb: TracebackType | None,
    ) -> None:
        self.stopped.set()
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    def _record_sni(self, _sock: ssl.SSLObject, name: str | None, _ctx: ssl.SSLContext) -> None:
        self.sni_names.append(name)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.connections += 1
        try:
            while True:
                seen = await self._read(reader)
                self.requests.append(seen)
                await self.behaviour(seen, writer, self)
                if not self.keep_alive:
                    break
        except (ConnectionError, OSError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()
            self._tasks.discard(task)

    @staticmethod
    async def _read(reader: asyncio.StreamReader) -> Seen:
        head = await reader.readuntil(b"\r\n\r\n")
        request_line, *header_lines = head.decode("latin-1").split("\r\n")
        method, target, _version = request_line.split(" ", 2)
        headers: dict[str, str] = {}
        for line in header_lines:
            if line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        return Seen(method, target, headers, body)


T = TypeVar("T")


async def within(awaitable: Awaitable[T], seconds: float = 30.0) -> T:
    """A test's bounded wait: what the sender must finish by itself, or the test fails."""
    return await asyncio.wait_for(awaitable, seconds)
