"""Standard Webhooks signing: `webhook-id`, `webhook-timestamp`, `webhook-signature`.

The HMAC-SHA256 over `id.timestamp.body`, its `v1,<base64>` form and the receiver's checks
(constant-time comparison, a 5-minute tolerance on the timestamp) are the `standardwebhooks`
library's, the reference implementation of the specification; this module only fixes how
Ketenpas calls it. A secret is per subscription, 32 random bytes shown once as
`whsec_<base64>`, the form the specification and its libraries read.
"""

import base64
import math
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Final

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

__all__ = ["SECRET_PREFIX", "SignatureInvalid", "new_secret", "signed_headers", "verify"]

SECRET_PREFIX: Final = "whsec_"  # noqa: S105 (the prefix of the format, not a secret)
_SECRET_BYTES: Final = 32


class SignatureInvalid(Exception):
    """A delivery that is forged, altered, incomplete, or too old or too new (±5 min)."""


def new_secret() -> str:
    """A fresh subscription secret: "whsec_" + base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(_SECRET_BYTES)).decode("ascii")


def signed_headers(
    secret: str, *, message_id: str, timestamp: datetime, body: bytes
) -> dict[str, str]:
    """webhook-id, webhook-timestamp, webhook-signature (v1,<base64 HMAC-SHA256>)."""
    # The specification asks that the id hold no "." (it is the separator of what is signed)
    # and a header value cannot hold whitespace or control characters.
    if not message_id or "." in message_id or not message_id.isprintable() or " " in message_id:
        raise ValueError("a webhook id is a non-empty token without '.', spaces or controls")
    if timestamp.tzinfo is None:
        raise ValueError("the timestamp must be timezone-aware")
    signature = Webhook(secret).sign(message_id, timestamp, body)
    return {
        "webhook-id": message_id,
        # Whole seconds, as the library signs them.
        "webhook-timestamp": str(math.floor(timestamp.astimezone(UTC).timestamp())),
        "webhook-signature": signature,
    }


def verify(secret: str, headers: Mapping[str, str], body: bytes) -> None:
    """Raise SignatureInvalid on a forged, altered or too old/new (±5 min) delivery."""
    try:
        Webhook(secret).verify(body, dict(headers.items()), json_parse=False)
    except WebhookVerificationError as exc:
        raise SignatureInvalid(str(exc)) from exc
