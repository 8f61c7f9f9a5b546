"""Drug-dog and patrol visits: slots drawn just in time, the team's dispatch, outcomes."""

import asyncio
import json
import uuid
from datetime import datetime, timedelta

import pytest
from sqlmodel import col, select

from services.registry import SERVICES
from services.release.visits.models import VisitSlot
from services.release.visits.rates import slot_probability
from services.release.visits.scheduler import TickReport, VisitScheduler
from services.release.visits.slots import slot_name
from shared.db import transaction
from tests.conftest import SettingsFactory, running
from tests.helpers import assert_problem
from tests.release.chains import ok
from tests.release.port import Port, audit_types
from tests.release.visits import (
    SLOT,
    alerts,
    clock,
    dispatch,
    make_site,
    now_slot,
    officer,
    run_until,
    scheduler,
    slots,
)

LEAD = timedelta(seconds=600)


def test_a_slots_probability_is_its_rate_times_its_length_capped_at_one() -> None:
    assert slot_probability(6.0, 300) == 0.5
    assert slot_probability(0.0, 300) == 0.0
    assert slot_probability(30.0, 300) == 1.0


async def test_a_slot_is_drawn_at_its_lead_time_and_not_earlier(port: Port) -> None:
    start = now_slot(port) + timedelta(hours=1)
    site = await make_site(port, rate=6.0, since=start)
    early = await scheduler(port).tick(start - LEAD - timedelta(seconds=1))
    assert early.drawn == 0 and await slots(port) == []
    on_time = await scheduler(port).tick(start - LEAD)
    assert (on_time.drawn, on_time.late) == (1, 0)
    [slot] = await slots(port)
    assert slot.slot_start == start and not slot.late and slot.draw_id is not None
    draw = ok(
        await port.client.get(
            f"/v1/inspections/draws/{slot.draw_id}", headers=port["security"].headers
        ),
        404,  # drawn, but not over: nobody reads it yet
    )
    assert draw["code"] == "draw_not_found"
    again = await scheduler(port).tick(start - LEAD + timedelta(seconds=15))
    assert again.drawn == 0  # the next slot's moment has not come
    assert (await audit_types(port.release)).count("visit.slot_drawn") == 1
    async with transaction(port.release.state.sessions) as session:
        stored = await session.get(VisitSlot, slot.id)
    assert stored is not None
    assert site["site_id"] == str(stored.site_id)


async def test_every_slot_of_a_site_is_drawn_once_with_the_sites_rate(port: Port) -> None:
    start = now_slot(port) - timedelta(hours=2)
    never = await make_site(port, rate=0.0, since=start, name="Auction hall")
    always = await make_site(port, rate=12.0, since=start)
    await run_until(port, start - LEAD, start + timedelta(hours=1))
    claimed = await slots(port)
    by_site: dict[str, list[VisitSlot]] = {}
    for slot in claimed:
        by_site.setdefault(str(slot.site_id), []).append(slot)
    for site in (never, always):
        starts = [slot.slot_start for slot in by_site[site["site_id"]]]
        expected = [start + SLOT * i for i in range(len(starts))]
        assert starts == expected and len(starts) == 15  # an hour and the lead time, ends included
    assert not any(slot.visit for slot in by_site[never["site_id"]])
    assert all(slot.visit for slot in by_site[always["site_id"]])
    assert not any(slot.late for slot in claimed)


async def test_the_team_sees_drawn_visits_until_they_end_and_nothing_later(port: Port) -> None:
    handler = await officer(port, "customs")
    site = await make_site(port, team=[handler], visit_seconds=600, since=now_slot(port) - SLOT * 6)
    await run_until(port, now_slot(port) - SLOT * 6 - LEAD, now_slot(port))
    seen = ok(await dispatch(port, site, handler.headers))
    now = clock(port)
    starts = [datetime.fromisoformat(visit["starts_at"]) for visit in seen["visits"]]
    ends = [datetime.fromisoformat(visit["ends_at"]) for visit in seen["visits"]]
    assert starts == sorted(starts) and starts
    assert all(end > now for end in ends)  # none that is over
    assert max(starts) == now_slot(port) + LEAD  # drawn up to the lead time, no further
    assert all(start <= now + LEAD for start in starts)
    # Nothing exists beyond the drawing horizon: there is no schedule to leak.
    assert max(slot.slot_start for slot in await slots(port)) == now_slot(port) + LEAD


async def test_outcomes_are_recorded_once_and_a_missed_visit_raises_an_alert(port: Port) -> None:
    handler = await officer(port, "customs")
    site = await make_site(port, team=[handler], since=now_slot(port) - SLOT * 2)
    await run_until(port, now_slot(port) - SLOT * 2 - LEAD, now_slot(port))
    visits = ok(await dispatch(port, site, handler.headers))["visits"]
    started = [v for v in visits if datetime.fromisoformat(v["starts_at"]) <= clock(port)]
    upcoming = [v for v in visits if datetime.fromisoformat(v["starts_at"]) > clock(port)]
    path = f"/v1/sites/{site['site_id']}/visits/{{}}/outcome"

    done = await port.client.post(
        path.format(started[0]["visit_id"]), json={"outcome": "done"}, headers=handler.headers
    )
    assert ok(done)["outcome"] == "done"
    again = await port.client.post(
        path.format(started[0]["visit_id"]),
        json={"outcome": "missed", "reason": "other"},
        headers=handler.headers,
    )
    assert_problem(again, 409, "visit_outcome_recorded")
    assert await alerts(port) == []

    missed = await port.client.post(
        path.format(started[1]["visit_id"]),
        json={"outcome": "missed", "reason": "dog_unavailable", "note": "dog ill"},
        headers=handler.headers,
    )
    assert ok(missed)["reason"] == "dog_unavailable"
    [alert] = await alerts(port)
    assert alert.severity == "medium"
    assert alert.facts["visit_id"] == started[1]["visit_id"]

    early = await port.client.post(
        path.format(upcoming[-1]["visit_id"]), json={"outcome": "done"}, headers=handler.headers
    )
    assert_problem(early, 409, "visit_not_started")
    types = await audit_types(port.release)
    assert types.count("visit.outcome") == 2 and "alert.raised" in types


async def test_an_outcome_needs_a_reason_for_a_miss_and_no_system_reason(port: Port) -> None:
    handler = await officer(port, "customs")
    site = await make_site(port, team=[handler], since=now_slot(port) - SLOT)
    await run_until(port, now_slot(port) - SLOT - LEAD, now_slot(port))
    visit = ok(await dispatch(port, site, handler.headers))["visits"][0]
    path = f"/v1/sites/{site['site_id']}/visits/{visit['visit_id']}/outcome"
    for body in (
        {"outcome": "missed"},
        {"outcome": "done", "reason": "other"},
        {"outcome": "missed", "reason": "not_reported"},
        {"outcome": "cleared"},
    ):
        refused = await port.client.post(path, json=body, headers=handler.headers)
        assert refused.status_code == 422, body
    unknown = await port.client.post(
        f"/v1/sites/{site['site_id']}/visits/{uuid.uuid4()}/outcome",
        json={"outcome": "done"},
        headers=handler.headers,
    )
    assert_problem(unknown, 404, "visit_not_found")


async def test_a_visit_nobody_reports_is_recorded_missed_with_an_alert(port: Port) -> None:
    start = now_slot(port) - timedelta(hours=3)
    await make_site(port, since=start, visit_seconds=600)
    # Ticking on: the first visit ends at start + 10 min, its grace ends an hour later.
    report = await run_until(port, start - LEAD, start + timedelta(seconds=600 + 3600))
    assert report.unreported == 1 and report.late == 0
    first = (await slots(port))[0]
    assert (first.outcome, first.reason, first.outcome_by) == (
        "missed",
        "not_reported",
        "scheduler",
    )
    [alert] = await alerts(port)
    assert alert.severity == "high" and alert.facts["reason"] == "not_reported"


async def test_slots_missed_while_every_scheduler_was_down_are_drawn_late(port: Port) -> None:
    start = now_slot(port) - timedelta(hours=2)
    await make_site(port, since=start, visit_seconds=600)
    await scheduler(port).tick(start - LEAD)  # the first slot, on time
    back = start + timedelta(minutes=30)
    report = await scheduler(port).tick(back)  # down for half an hour
    claimed = await slots(port)
    assert [slot.slot_start for slot in claimed] == [start + SLOT * i for i in range(9)]
    late = [slot for slot in claimed if slot.late]
    assert report.late == len(late) == 5  # started before `back`; the rest are on time
    over = [slot for slot in late if slot.ends_at <= back]
    assert all((s.outcome, s.reason) == ("missed", "drawn_too_late") for s in over)
    assert len(await alerts(port)) == len(over) + (report.unreported > 0)


async def test_a_closed_site_has_no_slots_after_those_already_due(port: Port) -> None:
    site = await make_site(port, since=now_slot(port) - SLOT)
    closed = await port.client.patch(
        f"/v1/sites/{site['site_id']}", json={"closed": True}, headers=port["security"].headers
    )
    until = datetime.fromisoformat(ok(closed)["slots_until"])
    assert until > clock(port) + LEAD - SLOT
    await run_until(port, now_slot(port) - SLOT - LEAD, now_slot(port) + timedelta(hours=1))
    assert max(slot.slot_start for slot in await slots(port)) < until
    again = await port.client.patch(
        f"/v1/sites/{site['site_id']}", json={"closed": True}, headers=port["security"].headers
    )
    assert_problem(again, 409, "site_closed")


async def test_port_security_manages_sites_and_each_change_is_logged(port: Port) -> None:
    handler = await officer(port, "customs")
    site = await make_site(port, rate=2.0)
    headers = port["security"].headers
    path = f"/v1/sites/{site['site_id']}"
    profile = [[0.0] * 24 for _ in range(7)]
    profile[0][3] = 4.5
    rated = ok(await port.client.put(f"{path}/rates", json={"rates": profile}, headers=headers))
    assert rated["rates"][0][3] == 4.5
    teamed = ok(
        await port.client.put(f"{path}/team", json={"members": [handler.member]}, headers=headers)
    )
    assert teamed["team"] == [handler.member]
    renamed = ok(await port.client.patch(path, json={"name": "Hall 2"}, headers=headers))
    assert renamed["name"] == "Hall 2"
    listed = ok(await port.client.get("/v1/sites", headers=headers))
    assert [s["site_id"] for s in listed["sites"]] == [site["site_id"]]
    types = await audit_types(port.release)
    for logged in ("visit.site_created", "visit.rates_set", "visit.team_set", "visit.site_changed"):
        assert logged in types, logged


async def test_bad_site_input_is_a_422_with_a_stable_code(port: Port) -> None:
    headers = port["security"].headers
    site = await make_site(port)
    path = f"/v1/sites/{site['site_id']}"
    for rates in ([[1.0] * 24] * 6, [[1.0] * 23] * 7, [[-1.0] * 24] * 7, [[61.0] * 24] * 7):
        refused = await port.client.put(f"{path}/rates", json={"rates": rates}, headers=headers)
        assert refused.status_code == 422, rates
    infinite = await port.client.put(
        f"{path}/rates",
        content=json.dumps({"rates": [[float("inf")] * 24] * 7}),
        headers={**headers, "content-type": "application/json"},
    )
    assert infinite.status_code == 422
    too_long = await port.client.post(
        "/v1/sites",
        json={"name": "x", "kind": "quay", "visit_seconds": 86400},
        headers=headers,
    )
    assert_problem(too_long, 422, "visit_too_long")
    assert_problem(
        await port.client.get(f"/v1/sites/{uuid.uuid4()}", headers=headers), 404, "site_not_found"
    )
    twice = await port.client.put(
        f"{path}/team",
        json={"members": [{"party_id": "NL1", "person_id": str(uuid.uuid4())}] * 2},
        headers=headers,
    )
    assert_problem(twice, 422, "team_invalid")
    bad = await port.client.get(
        "/v1/sites/slots",
        params={"since": "2026-01-02T00:00:00Z", "until": "2026-01-01T00:00:00Z"},
        headers=headers,
    )
    assert_problem(bad, 422, "period_invalid")


async def test_port_security_lists_slots_once_they_are_over_with_their_draws(port: Port) -> None:
    start = now_slot(port) - timedelta(hours=4)
    site = await make_site(port, rate=6.0, since=start, visit_seconds=600)
    await run_until(port, start - LEAD, now_slot(port))
    params = {"since": start.isoformat(), "until": (now_slot(port) + LEAD * 2).isoformat()}
    headers = port["security"].headers
    pages, cursor = [], None
    while True:
        query = {**params, "limit": "10", **({"cursor": cursor} if cursor else {})}
        page = ok(await port.client.get("/v1/sites/slots", params=query, headers=headers))
        pages.append(page)
        cursor = page["next"]
        if not cursor:
            break
    listed = [slot for page in pages for slot in page["slots"]]
    now = clock(port)
    assert all(datetime.fromisoformat(slot["ends_at"]) <= now for slot in listed)
    over = [slot for slot in await slots(port) if slot.ends_at <= now]
    assert [slot["slot_id"] for slot in listed] == [str(slot.id) for slot in over]
    for slot in listed:
        draw = slot["draw"]
        assert draw["draw_id"] == slot["draw_id"] and draw["selected"] is slot["visit"]
        subject = draw["alpha_object"]["subject"]
        start_of = datetime.fromisoformat(slot["slot_start"])
        assert subject == {"site": site["site_id"], "slot": slot_name(start_of)}
    complete = datetime.fromisoformat(pages[0]["complete_until"])
    assert complete <= now - timedelta(seconds=7200)
    visits_only = ok(
        await port.client.get(
            "/v1/sites/slots", params={**params, "visit": "true"}, headers=headers
        )
    )
    assert all(slot["visit"] for slot in visits_only["slots"])
    # The draws list hides what the slot list hides: no slot's draw before the slot is over.
    draws = ok(
        await port.client.get(
            "/v1/inspections/draws", params={**params, "purpose": "visit"}, headers=headers
        )
    )["draws"]
    listed_draws = {slot["draw_id"] for slot in listed}
    assert {draw["draw_id"] for draw in draws} <= listed_draws | {
        str(slot.draw_id) for slot in over
    }
    async with transaction(port.release.state.sessions) as session:
        pending = (await session.exec(select(VisitSlot).where(col(VisitSlot.ends_at) > now))).all()
    assert pending and not {str(s.draw_id) for s in pending} & {d["draw_id"] for d in draws}


async def test_a_failing_look_does_not_stop_the_scheduler(port: Port) -> None:
    looks: list[str] = []
    real = scheduler(port)

    async def wait(_: float) -> None:
        if len(looks) == 3:
            raise asyncio.CancelledError
        looks.append("waited")

    async def tick(now: datetime) -> TickReport:
        if len(looks) == 1:
            raise ConnectionError("the database is away")
        return TickReport(drawn=1)

    looping = VisitScheduler(
        port.release.state.sessions,
        port.release.state.drawing_key,
        lead_seconds=600,
        tick_seconds=15,
        report_grace_seconds=3600,
        catch_up_slots=10,
        zone=real.zone,
        wait=wait,
    )
    looping.tick = tick  # type: ignore[method-assign]
    with pytest.raises(asyncio.CancelledError):
        await looping.run()
    assert looks == ["waited"] * 3  # looked three times; the failure in between was logged


async def test_the_service_runs_its_scheduler_when_the_tick_is_set(
    make_settings: SettingsFactory,
) -> None:
    app = SERVICES["release"].create_app(make_settings("release", visit_tick_seconds=3600))
    async with running(app):
        task = app.state.visit_task
        assert task is not None and not task.done()
    assert task.cancelled()
