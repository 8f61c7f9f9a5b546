"""Appending events to the audit log inside the caller's transaction.

Leaf encoding (version 1), documented here because verifiers depend on it:

- the event is a JSON object; `append` adds `id` (a UUID string), `type` and `at`
  (RFC 3339 UTC time) and serialises it as RFC 8785 canonical JSON (UTF-8), `C`;
- a fresh random 32-byte `salt` is drawn for each event;
- the log entry (the public leaf data, served in the entry bundles) is the 32-byte
  commitment `SHA-256("ketenpas-audit-v1\\n" || salt || C)`;
- the Merkle leaf hash is RFC 9162's `SHA-256(0x00 || commitment)`.

The commitment hides the event (the salt defeats guessing), so tiles, entry bundles and
checkpoints can be published; the event and its salt stay in the service's database, and a
receipt hands the salt to whoever holds the event, so that he can check it on his own.
"""

import hashlib
import os
import uuid
from collections.abc import Mapping
from typing import Any

import rfc8785
from sqlalchemy import insert
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.audit.models import AuditEvent
from shared.db import insert_at_commit, table_of
from shared.models import utcnow

COMMITMENT_PREFIX = b"ketenpas-audit-v1\n"
SALT_BYTES = 32


def canonical_json(event: Mapping[str, Any]) -> bytes:
    """RFC 8785 canonical JSON of an event."""
    return bytes(rfc8785.dumps(dict(event)))


def commitment(salt: bytes, canonical_event: bytes) -> bytes:
    """The log entry that stands for one event (see the module docstring)."""
    return hashlib.sha256(COMMITMENT_PREFIX + salt + canonical_event).digest()


# Built once, values bound at execution (no per-call cache key over the values).
_EVENTS = table_of(AuditEvent)
_INSERT_EVENT = insert(_EVENTS)


def _event_row(event_type: str, event: Mapping[str, Any]) -> dict[str, Any]:
    """The audit_events row of a new event (its id, time, canonical JSON, salt, commitment)."""
    event_id = uuid.uuid4()
    now = utcnow()
    record = {**event, "id": str(event_id), "type": event_type, "at": now.isoformat()}
    canonical = canonical_json(record)
    salt = os.urandom(SALT_BYTES)
    return {
        "event_id": event_id,
        "created_at": now,
        "event_type": event_type,
        "event": canonical.decode(),
        "salt": salt,
        "commitment": commitment(salt, canonical),
    }


async def append(session: AsyncSession, event_type: str, event: Mapping[str, Any]) -> uuid.UUID:
    """Add an event to the log in the caller's transaction; returns its id.

    One INSERT at once, not an object for the unit of work: every state change appends an
    event, and the ORM's bookkeeping for a row nobody reads back cost more than the insert.
    """
    values = _event_row(event_type, event)
    await session.exec(_INSERT_EVENT, params=values)
    event_id: uuid.UUID = values["event_id"]
    return event_id


def append_at_commit(session: AsyncSession, event_type: str, event: Mapping[str, Any]) -> uuid.UUID:
    """`append`, the row written when the transaction commits (`shared.db.insert_at_commit`:
    with the transaction's other such rows in one statement on PostgreSQL); its id now.

    For the gate's hot path, where nothing reads the event back before the commit."""
    values = _event_row(event_type, event)
    insert_at_commit(session, _EVENTS, values)
    event_id: uuid.UUID = values["event_id"]
    return event_id
