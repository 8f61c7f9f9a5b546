"""docs/webhook-receivers.md stays true: its example is what Ketenpas sends, its code works.

The page's example request (headers and body) is rebuilt with Ketenpas's own envelope and
signing and must come out byte for byte; its two Python snippets (the library check and the
raw one) are executed as written against deliveries signed by Ketenpas's code, and one of
them answers a real delivery sent by the sender.
"""

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared.webhooks.egress import EgressPolicy, Sender
from shared.webhooks.envelope import CONTENT_TYPE, cloud_event
from shared.webhooks.signing import new_secret, signed_headers
from tests.shared.webhooks.receiver_doc import (
    PAGE,
    blocks,
    delivery,
    library_receiver,
    raw_verifier,
)
from tests.shared.webhooks.receivers import Receiver, Seen, within


def test_the_pages_example_is_what_ketenpas_sends() -> None:
    [body_text] = blocks("text")
    body = body_text.rstrip("\n").encode()
    event = json.loads(body)
    rebuilt = cloud_event(
        event_id=event["id"],
        event_type=event["type"],
        source=event["source"],
        subject=event["subject"],
        time=datetime.fromisoformat(event["time"]),
        data=event["data"],
    )
    assert rebuilt == body

    [request] = blocks("http")
    headers = dict(line.split(": ", 1) for line in request.splitlines()[1:] if ": " in line)
    secret = re.search(r"`(whsec_[A-Za-z0-9+/=]+)`", PAGE.read_text("utf-8"))
    assert secret is not None
    signed = signed_headers(
        secret.group(1),
        message_id=headers["webhook-id"],
        timestamp=datetime.fromtimestamp(int(headers["webhook-timestamp"]), UTC),
        body=body,
    )
    assert {name: headers[name] for name in signed} == signed
    assert headers["Content-Type"] == CONTENT_TYPE


def test_the_library_snippet_accepts_a_delivery_once() -> None:
    secret = new_secret()
    receive, handled = library_receiver(secret)
    headers, body = delivery(secret)
    assert receive(headers, body) == 204
    assert receive(headers, body) == 204  # the repeat is answered, not handled again
    assert [event["id"] for event in handled] == ["evt_1"]


def test_the_library_snippet_handles_a_retry_signed_afresh_once() -> None:
    secret = new_secret()
    receive, handled = library_receiver(secret)
    first = delivery(secret, at=datetime.now(UTC) - timedelta(minutes=1))
    retry = delivery(secret)  # the same delivery id, a new timestamp and signature
    assert receive(*first) == 204 and receive(*retry) == 204
    assert len(handled) == 1


def test_the_raw_check_accepts_a_delivery_signed_by_ketenpas() -> None:
    secret = new_secret()
    headers, body = delivery(secret)
    assert raw_verifier()(secret, headers, body)


@pytest.mark.parametrize("kind", ["library", "raw"])
def test_the_documented_checks_refuse_garbage_headers(kind: str) -> None:
    secret = new_secret()
    headers, body = delivery(secret)
    for broken in (
        {**headers, "webhook-timestamp": "-1"},
        {**headers, "webhook-timestamp": "\uff11\uff12\uff13"},  # full-width digits
        {**headers, "webhook-signature": "v1,é"},
        {},
    ):
        if kind == "library":
            receive, handled = library_receiver(secret)
            assert receive(broken, body) == 400
            assert handled == []
        else:
            assert raw_verifier()(secret, broken, body) is False


async def test_a_real_delivery_is_answered_by_the_documented_receiver() -> None:
    secret = new_secret()
    receive, handled = library_receiver(secret)

    async def documented(
        seen: Seen, writer: Any, _receiver: Receiver
    ) -> None:  # the page's code behind a socket
        status = receive(seen.headers, seen.body)
        writer.write(f"HTTP/1.1 {status} X\r\ncontent-length: 0\r\n\r\n".encode())
        await writer.drain()

    sender = Sender(EgressPolicy(allow_private=True))
    try:
        async with Receiver(documented) as receiver:
            headers, body = delivery(secret)
            result = await within(sender.post(receiver.url(), headers, body))
            forged_headers, _ = delivery(new_secret())
            forged = await within(sender.post(receiver.url(), forged_headers, body))
    finally:
        await sender.aclose()
    assert (result.status_code, forged.status_code) == (204, 400)
    assert [event["subject"] for event in handled] == ["rel_1"]
