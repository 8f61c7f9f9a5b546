"""The logs the rule runner follows, each read by its row id after a stored cursor.

The release service follows its access log and its audit log, the identity service its
audit log. A source is a table with an ascending integer id; the runner reads a batch of
rows past its cursor and hands them to the rules that listen to the source.
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
    """A followed log: a table model with an integer `id` column."""

    name: str
    model: Any

    async def newest(self, session: AsyncSession) -> int:
        """The highest id now (0 when empty): where a runner's first look starts."""
        found = (await session.exec(select(func.max(self.model.id)))).one()
        return int(found or 0)

    async def after(self, session: AsyncSession, position: int, limit: int) -> Sequence[Any]:
        """Up to `limit` rows with an id above `position`, in id order."""
        statement = (
            select(self.model)
            .where(col(self.model.id) > position)
            .order_by(col(self.model.id))
            .limit(limit)
        )
        return (await session.exec(statement)).all()


def audit_source() -> Source:
    """The service's audit log (both services have one)."""
    return Source(AUDIT_LOG, AuditEvent)


def facts_of(event: AuditEvent) -> dict[str, Any]:
    """The logged event as a dict (its canonical JSON parsed)."""
    parsed: dict[str, Any] = json.loads(event.event)
    return parsed
