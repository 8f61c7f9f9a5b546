"""Sealing the access log into the audit log, so that an edited, deleted or inserted row shows.

The access log is written on every read and is far too busy to put each row in the Merkle
tree; instead a sealer commits the rows to the audit log in batches. A seal is the audit
event `access_log.sealed`:

    {"month": "2026-12", "first_id": 1201, "last_id": 1300, "count": 100,
     "digest": "<base64url SHA-256>"}

- the rows of a seal are those whose `sealed_in` is the seal's `first_id` (its lowest row
  id); all of one month of `at` (UTC), so that retention can drop a month without breaking a
  seal;
- `digest` is SHA-256 over `"ketenpas-access-v1\\n"` followed by each row's RFC 8785
  canonical JSON and a newline, in id order; a row is the object of its columns
  `id, at (RFC 3339, UTC), actor, party_id, person_id, action, release_id, container,
  outcome, results, endpoint` (absent values as null);
- the queue is "rows whose `sealed_in` is still empty", not "rows above the last sealed id",
  like the audit sequencer's: a read whose transaction took a low id and committed late is
  sealed by the next round, never skipped. Marking the rows and appending the event happen
  in one transaction, under a lock (a PostgreSQL advisory lock; SQLite's write lock), so a
  row is sealed once.

The audit event itself is committed in the Merkle tree by the audit sequencer, so a seal can
no more be changed than any other event; `verify.verify_access_log` recomputes every seal.
"""

import base64
import hashlib
import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import rfc8785
from sqlalchemy import RowMapping, text
from sqlmodel.ext.asyncio.session import AsyncSession

from services.release.access import repository
from services.release.access.repository import SEALED_COLUMNS
from shared.audit import events
from shared.db import SessionFactory, transaction

SEALED = "access_log.sealed"
PURGED = "access_log.purged"
DIGEST_PREFIX = b"ketenpas-access-v1\n"
# pg_advisory_xact_lock key of the sealer (SHA-256 of "ketenpas-access-log-sealer", 8 bytes).
LOCK_KEY = int.from_bytes(
    hashlib.sha256(b"ketenpas-access-log-sealer").digest()[:8], "big", signed=True
)


def month_of(moment: datetime) -> str:
    """`YYYY-MM` of a moment, in UTC."""
    return moment.astimezone(UTC).strftime("%Y-%m")


def canonical_row(row: Mapping[Any, Any]) -> bytes:
    """The RFC 8785 canonical JSON a seal commits to for one row."""
    values: dict[str, Any] = {}
    for name in SEALED_COLUMNS:
        value = row[name]
        if isinstance(value, datetime):
            value = value.astimezone(UTC).isoformat()
        elif value is not None and not isinstance(value, int | str):
            value = str(value)  # UUIDs
        values[name] = value
    return bytes(rfc8785.dumps(values))


class Digest:
    """The running digest of one seal's rows, fed in id order."""

    def __init__(self) -> None:
        self._hash = hashlib.sha256(DIGEST_PREFIX)
        self.count = 0

    def add(self, row: Mapping[Any, Any]) -> None:
        """Take the next row."""
        self._hash.update(canonical_row(row) + b"\n")
        self.count += 1

    def value(self) -> str:
        """base64url of the SHA-256, without padding."""
        return base64.urlsafe_b64encode(self._hash.digest()).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class Seal:
    """What one `access_log.sealed` event says."""

    month: str
    first_id: int
    last_id: int
    count: int
    digest: str

    @classmethod
    def of(cls, rows: Iterable[Mapping[Any, Any]]) -> "Seal":
        """The seal of these rows (one month's, in id order)."""
        ordered = list(rows)
        digest = Digest()
        for row in ordered:
            digest.add(row)
        return cls(
            month=month_of(ordered[0]["at"]),
            first_id=int(ordered[0]["id"]),
            last_id=int(ordered[-1]["id"]),
            count=digest.count,
            digest=digest.value(),
        )

    def event(self) -> dict[str, Any]:
        """The audit event's body."""
        return {
            "month": self.month,
            "first_id": self.first_id,
            "last_id": self.last_id,
            "count": self.count,
            "digest": self.digest,
        }


async def lock(session: AsyncSession) -> bool:
    """Take the sealer's lock for this transaction; False if another replica holds it."""
    if session.get_bind().dialect.name != "postgresql":
        return True  # SQLite: the transaction began IMMEDIATE, it is the lock
    connection = await session.connection()
    result = await connection.execute(
        text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": LOCK_KEY}
    )
    return bool(result.scalar_one())


async def seal_batch(session: AsyncSession, *, batch_size: int) -> list[Seal]:
    """Seal up to `batch_size` unsealed rows, one seal per month; [] if another sealer is at
    work or nothing waits. The caller owns the transaction."""
    if not await lock(session):
        return []
    rows: list[RowMapping] = await repository.unsealed(session, batch_size)
    seals: list[Seal] = []
    ordered = sorted(rows, key=lambda row: (month_of(row["at"]), row["id"]))
    for _, group in itertools.groupby(ordered, key=lambda row: month_of(row["at"])):
        members = list(group)
        seal = Seal.of(members)
        start = datetime.strptime(seal.month, "%Y-%m").replace(tzinfo=UTC)
        end = (start + timedelta(days=32)).replace(day=1)
        await repository.mark_sealed(
            session, [int(row["id"]) for row in members], seal.first_id, start=start, end=end
        )
        await events.append(session, SEALED, seal.event())
        seals.append(seal)
    return seals


async def seal_all(sessions: SessionFactory, *, batch_size: int = 5000) -> list[Seal]:
    """Seal everything committed now, a batch per transaction; the seals made."""
    made: list[Seal] = []
    while True:
        async with transaction(sessions) as session:
            seals = await seal_batch(session, batch_size=batch_size)
        made.extend(seals)
        if sum(seal.count for seal in seals) < batch_size:
            return made
