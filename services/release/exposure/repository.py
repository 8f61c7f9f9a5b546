"""SQL of the exposure report: what a party's people and client looked up in a period."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, case, distinct, func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.release.access.models import AccessLogEntry

#: Outcomes of a read that showed something; every other outcome (`not_found`, `refused`,
#: ...) is an attempt the service refused or found nothing for.
SHOWN_OUTCOMES = ("shown", "ok")
#: How `shared.auth.Principal.actor` names a person.
PERSON_ACTOR = "person:"


@dataclass(frozen=True)
class LookupCount:
    """One actor's reads of a period: shown, refused, and distinct containers shown."""

    actor: str
    reads: int
    refused: int
    containers: int
    first_at: datetime
    last_at: datetime

    @property
    def person_id(self) -> uuid.UUID | None:
        """The person who read, None for a party's API client."""
        if not self.actor.startswith(PERSON_ACTOR):
            return None
        try:
            return uuid.UUID(self.actor.removeprefix(PERSON_ACTOR))
        except ValueError:
            return None


def _of_party(party_id: str, since: datetime, until: datetime) -> list[ColumnElement[bool]]:
    return [
        col(AccessLogEntry.party_id) == party_id,
        col(AccessLogEntry.at) >= since,
        col(AccessLogEntry.at) < until,
    ]


async def lookups(
    session: AsyncSession, *, party_id: str, since: datetime, until: datetime
) -> Sequence[LookupCount]:
    """Each actor of the party with reads in [since, until), by actor."""
    shown = col(AccessLogEntry.outcome).in_(SHOWN_OUTCOMES)
    actor = col(AccessLogEntry.actor)
    # Two statements of at most four columns: what sqlmodel's typed `select` takes.
    counts = (
        select(
            actor,
            func.sum(case((shown, 1), else_=0)),
            func.sum(case((shown, 0), else_=1)),
            func.count(distinct(case((shown, col(AccessLogEntry.container)), else_=None))),
        )
        .where(*_of_party(party_id, since, until))
        .group_by(actor)
    )
    moments = (
        select(actor, func.min(col(AccessLogEntry.at)), func.max(col(AccessLogEntry.at)))
        .where(*_of_party(party_id, since, until))
        .group_by(actor)
    )
    tallies = (await session.exec(counts)).all()
    # Read second: a read committed in between adds an actor here, never takes one away.
    spans = {name: (first, last) for name, first, last in (await session.exec(moments)).all()}
    found = [
        LookupCount(
            actor=name,
            reads=int(reads or 0),
            refused=int(refused or 0),
            containers=int(containers or 0),
            first_at=spans[name][0],
            last_at=spans[name][1],
        )
        for name, reads, refused, containers in tallies
    ]
    return sorted(found, key=lambda count: count.actor)
