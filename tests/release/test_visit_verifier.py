"""`ketenpas inspections verify` over visit slots: every slot of a period has exactly one
draw, of its own site and slot, and every way an insider with the database (and the VRF
key) could drop a slot's draw or draw it again is caught."""

import base64
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import delete, update
from sqlmodel import col

from services.release.inspections.draws import draw
from services.release.inspections.keys import DrawingKey
from services.release.inspections.models import Draw, Purpose
from services.release.inspections.verifier import DrawCheckFailed, DrawReport, verify_draws
from services.release.visits.models import VisitSite, VisitSlot
from services.release.visits.slots import slot_name
from shared.db import transaction
from tests.audit_helpers import integrate_all
from tests.release.port import Port
from tests.release.visits import clock, make_site, now_slot, run_until, slots

SINCE = datetime(2000, 1, 1, tzinfo=UTC)
UNTIL = datetime(2100, 1, 1, tzinfo=UTC)
LEAD = timedelta(seconds=600)


async def history(port: Port, hours: int = 4) -> dict[str, Any]:
    """A site whose slots have been drawn for some hours (half of them visits), logged."""
    start = now_slot(port) - timedelta(hours=hours)
    site = await make_site(port, rate=6.0, since=start, visit_seconds=600)
    await run_until(port, start - LEAD, now_slot(port))
    await integrate_all(port.release)
    return site


async def check(port: Port, since: datetime = SINCE, until: datetime = UNTIL) -> DrawReport:
    key: DrawingKey = port.release.state.drawing_key
    token = port["security"].headers["Authorization"].removeprefix("Bearer ")
    return await verify_draws(
        "http://testserver",
        trusted_keys=[base64.urlsafe_b64encode(key.public_key).rstrip(b"=").decode()],
        log_key=port.release.state.audit_log.verifier_key,
        token=token,
        since=since,
        until=until,
        transport=httpx.ASGITransport(app=port.release),
    )


async def refused(port: Port, words: str) -> DrawCheckFailed:
    with pytest.raises(DrawCheckFailed) as caught:
        await check(port)
    assert words in caught.value.reason, caught.value.reason
    return caught.value


async def over(port: Port) -> list[VisitSlot]:
    """The slots port security may list (over), that the period's check covers."""
    cut = clock(port) - timedelta(seconds=7200)
    return [slot for slot in await slots(port) if slot.slot_start < cut]


async def test_an_honest_period_of_visit_slots_verifies(port: Port) -> None:
    await history(port)
    report = await check(port)
    listed = [slot for slot in await slots(port) if slot.ends_at <= clock(port)]
    assert report.slots == len(listed) >= 40
    assert report.visits == sum(slot.visit for slot in listed)
    # A period inside the history verifies too: its slots drawn ahead are fetched with it.
    middle = now_slot(port) - timedelta(hours=3)
    inner = await check(port, since=middle, until=middle + timedelta(hours=1))
    assert inner.slots >= 12


async def test_a_dropped_slot_draw_is_caught(port: Port) -> None:
    await history(port)
    target = (await over(port))[5]
    async with transaction(port.release.state.sessions) as session:
        await session.exec(delete(VisitSlot).where(col(VisitSlot.id) == target.id))
        await session.exec(delete(Draw).where(col(Draw.id) == target.draw_id))
    failure = await refused(port, "has no draw")
    assert slot_name(target.slot_start) in failure.reason


async def test_a_slot_whose_draw_row_is_gone_is_caught(port: Port) -> None:
    await history(port)
    target = (await over(port))[3]
    async with transaction(port.release.state.sessions) as session:
        await session.exec(delete(Draw).where(col(Draw.id) == target.draw_id))
    failure = await refused(port, "not published")
    assert failure.draw == str(target.draw_id)


async def redraw(port: Port, slot: VisitSlot) -> Draw:
    """An insider with the key draws the slot again (a later checkpoint, another result)."""
    await integrate_all(port.release)
    async with transaction(port.release.state.sessions) as session:
        made = await draw(
            session,
            key=port.release.state.drawing_key,
            purpose=Purpose.visit,
            subject={"site": str(slot.site_id), "slot": slot_name(slot.slot_start)},
            probability=0.5,
            now=slot.drawn_at,
        )
    await integrate_all(port.release)
    return made


async def test_a_redrawn_slot_is_caught(port: Port) -> None:
    await history(port)
    target = (await over(port))[4]
    second = await redraw(port, target)
    failure = await refused(port, "drawn for twice")
    assert failure.draw in {str(target.draw_id), str(second.id)}


async def test_a_redraw_put_in_place_of_the_slots_draw_is_caught(port: Port) -> None:
    # The insider draws again, points the slot at the new draw, and deletes the first draw:
    # the slot's logged event still names the first.
    await history(port)
    target = (await over(port))[2]
    second = await redraw(port, target)
    async with transaction(port.release.state.sessions) as session:
        await session.exec(
            update(VisitSlot)
            .where(col(VisitSlot.id) == target.id)
            .values(draw_id=second.id, visit=second.selected)
        )
        await session.exec(delete(Draw).where(col(Draw.id) == target.draw_id))
    await refused(port, "differs from the one logged")


async def test_a_visit_flipped_on_a_slot_is_caught(port: Port) -> None:
    await history(port)
    target = (await over(port))[1]
    async with transaction(port.release.state.sessions) as session:
        await session.exec(
            update(VisitSlot).where(col(VisitSlot.id) == target.id).values(visit=not target.visit)
        )
    await refused(port, "differs from the one logged")


async def test_a_visit_draw_of_no_slot_is_caught(port: Port) -> None:
    site = await history(port)
    stray = now_slot(port) - timedelta(days=1)  # a slot the site never had
    async with transaction(port.release.state.sessions) as session:
        await draw(
            session,
            key=port.release.state.drawing_key,
            purpose=Purpose.visit,
            subject={"site": site["site_id"], "slot": slot_name(stray)},
            probability=0.5,
            now=clock(port) - timedelta(hours=3),
        )
    await integrate_all(port.release)
    await refused(port, "is not listed")


async def test_a_slot_moved_to_another_site_is_caught(port: Port) -> None:
    await history(port)
    other = await make_site(port, name="Auction hall", since=now_slot(port) + timedelta(days=1))
    target = (await over(port))[6]
    async with transaction(port.release.state.sessions) as session:
        await session.exec(
            update(VisitSlot)
            .where(col(VisitSlot.id) == target.id)
            .values(site_id=uuid.UUID(other["site_id"]))
        )
    with pytest.raises(DrawCheckFailed):
        await check(port)


async def drop_slots(port: Port, doomed: list[VisitSlot]) -> None:
    async with transaction(port.release.state.sessions) as session:
        for slot in doomed:
            await session.exec(delete(VisitSlot).where(col(VisitSlot.id) == slot.id))
            await session.exec(delete(Draw).where(col(Draw.id) == slot.draw_id))


async def test_a_sites_first_slots_dropped_with_its_start_moved_are_caught(port: Port) -> None:
    site = await history(port)
    first = (await over(port))[:3]
    await drop_slots(port, first)
    async with transaction(port.release.state.sessions) as session:
        await session.exec(
            update(VisitSite)
            .where(col(VisitSite.id) == uuid.UUID(site["site_id"]))
            .values(slots_from=first[-1].slot_start + timedelta(seconds=300))
        )
    await refused(port, "first slot differs from the one logged")


async def test_a_closed_sites_last_slots_dropped_with_its_end_moved_are_caught(
    port: Port,
) -> None:
    site = await history(port)
    closed = await port.client.patch(
        f"/v1/sites/{site['site_id']}", json={"closed": True}, headers=port["security"].headers
    )
    assert closed.status_code == 200, closed.text
    await integrate_all(port.release)
    assert (await check(port)).slots > 0  # closed honestly, it verifies
    cut = now_slot(port) - timedelta(hours=3)
    await drop_slots(port, [slot for slot in await slots(port) if slot.slot_start >= cut])
    async with transaction(port.release.state.sessions) as session:
        await session.exec(
            update(VisitSite)
            .where(col(VisitSite.id) == uuid.UUID(site["site_id"]))
            .values(slots_until=cut)
        )
    await refused(port, "last slot differs from the one logged")


async def test_rates_changed_by_port_security_verify_and_rates_changed_in_the_table_do_not(
    port: Port,
) -> None:
    start = now_slot(port) - timedelta(hours=4)
    site = await make_site(port, rate=6.0, since=start, visit_seconds=600)
    await run_until(port, start - LEAD, start + timedelta(hours=1))
    changed = await port.client.put(
        f"/v1/sites/{site['site_id']}/rates",
        json={"rates": [[3.0] * 24 for _ in range(7)]},
        headers=port["security"].headers,
    )
    assert changed.status_code == 200, changed.text
    await run_until(port, start + timedelta(hours=1, minutes=5), start + timedelta(hours=2))
    await integrate_all(port.release)
    assert {slot.rate for slot in await slots(port)} == {6.0, 3.0}
    await check(port)  # an honest change, logged: it verifies

    # An insider quiets the site in the table, where no event says so.
    async with transaction(port.release.state.sessions) as session:
        await session.exec(
            update(VisitSite)
            .where(col(VisitSite.id) == uuid.UUID(site["site_id"]))
            .values(rates=json.dumps([[0.0] * 24 for _ in range(7)]))
        )
    await run_until(port, start + timedelta(hours=2, minutes=5), now_slot(port))
    await integrate_all(port.release)
    await refused(port, "not its site's logged rate")
