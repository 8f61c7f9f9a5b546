"""The code of docs/webhook-receivers.md, run as published, and deliveries to feed it.

Used by the page's own test (test_receiver_doc.py) and by the security test of forged and
replayed deliveries.
"""

import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from shared.webhooks.envelope import cloud_event
from shared.webhooks.signing import signed_headers

PAGE = Path(__file__).resolve().parents[3] / "docs" / "webhook-receivers.md"
_BLOCK = re.compile(r"^```(\w+)\n(.*?)^```", re.MULTILINE | re.DOTALL)


def blocks(language: str) -> list[str]:
    """The page's fenced blocks in one language, in order."""
    text = PAGE.read_text(encoding="utf-8")
    return [body for lang, body in _BLOCK.findall(text) if lang == language]


Receive = Callable[[Mapping[str, str], bytes], int]


def library_receiver(secret: str) -> tuple[Receive, list[dict[str, Any]]]:
    """The page's library snippet, run as written; what it handed to `handle`."""
    handled: list[dict[str, Any]] = []
    namespace: dict[str, Any] = {"SECRET": secret, "handle": handled.append}
    exec(blocks("python")[0], namespace)  # the documented code, exactly as published
    receive: Receive = namespace["receive"]
    return receive, handled


def raw_verifier() -> Callable[[str, Mapping[str, str], bytes], bool]:
    """The page's check without the library, run as written."""
    namespace: dict[str, Any] = {}
    exec(blocks("python")[1], namespace)
    verify_raw: Callable[[str, Mapping[str, str], bytes], bool] = namespace["verify_raw"]
    return verify_raw


def delivery(
    secret: str, *, at: datetime | None = None, delivery_id: str = "dlv_1"
) -> tuple[dict[str, str], bytes]:
    """A delivery as the dispatcher makes one: Ketenpas's envelope, signed by Ketenpas."""
    when = at or datetime.now(UTC)
    body = cloud_event(
        event_id="evt_1",
        event_type="nl.ketenpas.release.cancelled",
        source="https://release.ketenpas.example",
        subject="rel_1",
        time=when,
        data={"release_id": "rel_1"},
    )
    return signed_headers(secret, message_id=delivery_id, timestamp=when, body=body), body
