"""Threat: a slot is drawn twice, so that whoever runs the service keeps the result he likes.

A slot is claimed before it is drawn, by a row whose key (site, slot start) the database keeps
unique: a second scheduler (another replica, a replayed tick, a restarted process) finds the
slot taken and draws nothing, and even a row written past the claim is refused. What a lost
claim drew is rolled back with it: no second draw, no second event.
"""

import uuid
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from services.release.inspections.models import Draw, Purpose
from services.release.visits import service
from services.release.visits.models import VisitSite, VisitSlot
from shared.db import transaction
from tests.release.port import Port, audit_types
from tests.release.visits import make_site, now_slot, scheduler, slots

LEAD = timedelta(seconds=600)


async def visit_draws(port: Port) -> int:
    async with transaction(port.release.state.sessions) as session:
        found = await session.exec(select(Draw).where(col(Draw.purpose) == Purpose.visit))
        return len(found.all())


async def test_a_slot_is_drawn_once_whoever_asks_again(port: Port) -> None:
    start = now_slot(port) + timedelta(hours=1)
    made = await make_site(port, since=start)
    first = await scheduler(port).tick(start - LEAD)
    replay = await scheduler(port).tick(start - LEAD)
    assert (first.drawn, replay.drawn) == (1, 0)
    [slot] = await slots(port)

    async with transaction(port.release.state.sessions) as session:
        site = await session.get(VisitSite, uuid.UUID(made["site_id"]))
        assert site is not None
        again = await service.draw_slot(
            session,
            key=port.release.state.drawing_key,
            site=site,
            slot_start=start,
            zone=ZoneInfo("Europe/Amsterdam"),
            now=start - LEAD,
        )
    assert again is None
    assert await visit_draws(port) == 1
    assert (await audit_types(port.release)).count("visit.slot_drawn") == 1

    with pytest.raises(IntegrityError):
        async with transaction(port.release.state.sessions) as session:
            session.add(
                VisitSlot(
                    site_id=slot.site_id,
                    slot_start=slot.slot_start,
                    ends_at=slot.ends_at,
                    drawn_at=slot.drawn_at,
                )
            )
    assert len(await slots(port)) == 1
