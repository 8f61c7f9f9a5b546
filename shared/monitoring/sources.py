"""The logs the rule runner follows, each read in order after a stored cursor.

The release service follows its access log and its audit log, the identity service its
audit log. A source is a table with an ascending integer position; the runner reads a batch
of rows past its cursor and hands them to the rules that listen to the source.

- The audit log is followed by `log_index`: the sequencer gives each committed event its
  index once, in the order events became visible, so no event is ever passed over (an id
  would be: on PostgreSQL a transaction may commit after one with a higher id). An event is
  seen once it is in the tree (the sequencer integrates every `log_sequencer_interval`).
- The access log is followed by its id; its rules count over the database's window, so a
  row committed late is still counted when its actor is next judged, or at the next sweep.
"""

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.audit.models import AuditEvent

AUDIT_LOG = "audit_log"
ACCESS_LOG = "access_log"


@dataclass(frozen=True)
class Source:
    """A followed log: a table model and its integer position column (`id` by default)."""

    name: str
    model: Any
    position: str = "id"

    def _column(self) -> Any:
        return col(getattr(self.model, self.position))

    def position_of(self, row: Any) -> int:
        """A row's position."""
        return int(getattr(row, self.position))

    async def newest(self, session: AsyncSession) -> int:
        """The highest position now (-1 when empty): where a runner's first look starts."""
        found = (await session.exec(select(func.max(self._column())))).one()
        return -1 if found is None else int(found)

    async def after(self, session: AsyncSession, position: int, limit: int) -> Sequence[Any]:
        """Up to `limit` rows with a position above `position`, in that order."""
        statement = (
            select(self.model)
            .where(self._column() > position)
            .order_by(self._column())
            .limit(limit)
        )
        return (await session.exec(statement)).all()


def audit_source() -> Source:
    """The service's audit log (both services have one), in log order."""
    return Source(AUDIT_LOG, AuditEvent, position="log_index")


def facts_of(event: AuditEvent) -> dict[str, Any]:
    """The logged event as a dict (its canonical JSON parsed)."""
    parsed: dict[str, Any] = json.loads(event.event)
    return parsed
