"""A subscriber's receiver for the demo walk: a local HTTP endpoint that keeps each
delivery and checks its Standard Webhooks signature, as a carrier's planning system would.

Only for the walk on a development port (the release service sends to loopback addresses
only in development, `webhook_allow_private`). Python's own threading HTTP server is
enough: it runs for a minute, on 127.0.0.1, for one subscriber.
"""

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from shared.webhooks.signing import SignatureInvalid, verify

#: A delivery's body is a small CloudEvent; more is refused.
MAX_BODY = 65_536


@dataclass(frozen=True)
class Received:
    """One delivery as it arrived: its headers and body."""

    headers: dict[str, str]
    body: bytes

    def event(self) -> dict[str, Any]:
        """The CloudEvent it carries."""
        found: dict[str, Any] = json.loads(self.body)
        return found


class DemoReceiver:
    """Serves `POST /events` on a free port of 127.0.0.1 while the `with` block runs."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self._arrived = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                if self.path != "/events" or not 0 < length <= MAX_BODY:
                    self.send_response(400)
                    self.end_headers()
                    return
                body = self.rfile.read(length)
                headers = {name.lower(): value for name, value in self.headers.items()}
                with receiver._arrived:
                    receiver.received.append(Received(headers, body))
                    receiver._arrived.notify_all()
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                """Quiet: the walk says what arrived."""

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """Where the subscription points."""
        return f"http://127.0.0.1:{self._server.server_address[1]}/events"

    def __enter__(self) -> "DemoReceiver":
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()

    def wait_for(self, event_type: str, subject: str, seconds: float) -> list[Received]:
        """Every delivery so far, once one of `event_type` about `subject` arrived (or the
        time is up: then what arrived, for the walk to report)."""
        deadline = time.monotonic() + seconds
        with self._arrived:
            while not any(
                r.event().get("type") == event_type and r.event().get("subject") == subject
                for r in self.received
            ):
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._arrived.wait(left)
            return list(self.received)


def verified(secret: str, delivery: Received) -> bool:
    """Whether the delivery's signature holds under the subscription's secret."""
    try:
        verify(secret, delivery.headers, delivery.body)
    except SignatureInvalid:
        return False
    return True
