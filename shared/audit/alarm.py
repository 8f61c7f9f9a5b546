"""The guard's alarm as a critical alert port security sees (shared.monitoring).

Raised in a transaction of its own, after the sequencer's has ended (the guard calls its
listeners in tasks): the alert is a row in the alerts table and an `alert.raised` event,
which stays queued in the audit log while the log refuses to sign, and is integrated once
a person has repaired the tree. One alert per log and reason, however often it recurs.
"""

import hashlib

from shared.audit.guard import AlarmListener
from shared.db import SessionFactory, transaction
from shared.models import utcnow
from shared.monitoring import service as monitoring

KIND = "audit_log_rewritten"


def critical_alert(sessions: SessionFactory, origin: str) -> AlarmListener:
    """A guard listener that raises a critical `audit_log_rewritten` alert."""

    async def listener(reason: str) -> None:
        digest = hashlib.sha256(reason.encode()).hexdigest()[:16]
        async with transaction(sessions) as session:
            await monitoring.raise_alert(
                session,
                kind=KIND,
                severity="critical",
                summary=f"the audit log {origin} stopped signing: {reason}",
                facts={"origin": origin, "reason": reason},
                now=utcnow(),
                subject=origin,
                dedup_key=f"{KIND}:{origin}:{digest}",
            )

    return listener
