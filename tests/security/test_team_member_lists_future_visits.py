"""Threat: a dog handler (or anyone else) learns when the next visits will be, and sells it.

No schedule exists: a slot is drawn only the lead time before it starts, so there is nothing
further ahead to read, however one asks. The team sees its visits from their drawing until
they end; nobody else, port security included, sees a slot (visit or not) or its draw before
the slot is over: not in the slot list, not in the draws list, not by the draw's id, not
from the access log's count of what a dispatch held.
"""

from datetime import datetime, timedelta

from tests.helpers import assert_problem
from tests.release.chains import ok
from tests.release.port import Port, access_log
from tests.release.visits import clock, dispatch, make_site, now_slot, officer, run_until, slots

LEAD = timedelta(seconds=600)


async def test_nothing_beyond_the_lead_time_exists_and_the_rest_is_the_teams_alone(
    port: Port,
) -> None:
    handler = await officer(port, "customs")
    start = now_slot(port) - timedelta(hours=1)
    site = await make_site(port, team=[handler], since=start)
    await run_until(port, start - LEAD, now_slot(port))
    now = clock(port)

    # The handler: only what is drawn, and nothing starts later than the lead time from now.
    visits = ok(await dispatch(port, site, handler.headers))["visits"]
    assert visits and all(
        datetime.fromisoformat(visit["starts_at"]) <= now + LEAD for visit in visits
    )
    assert max(slot.slot_start for slot in await slots(port)) <= now + LEAD
    far = {"since": now.isoformat(), "until": (now + timedelta(days=1)).isoformat()}
    for path in ("/v1/sites/slots", "/v1/inspections/draws"):
        assert_problem(
            await port.client.get(path, params=far, headers=handler.headers), 403, "role_required"
        )

    # Port security: no slot that is not over, nor its draw, whichever way it asks.
    security = port["security"].headers
    pending = [slot for slot in await slots(port) if slot.ends_at > now]
    assert pending
    listed = ok(await port.client.get("/v1/sites/slots", params=far, headers=security))
    assert listed["slots"] == []
    around = {"since": (now - timedelta(hours=2)).isoformat(), "until": far["until"]}
    draws = ok(await port.client.get("/v1/inspections/draws", params=around, headers=security))
    shown = {draw["draw_id"] for draw in draws["draws"]}
    assert not shown & {str(slot.draw_id) for slot in pending}
    for slot in pending:
        one = await port.client.get(f"/v1/inspections/draws/{slot.draw_id}", headers=security)
        assert_problem(one, 404, "draw_not_found")
    assert_problem(await dispatch(port, site, security), 404, "site_not_found")


async def test_the_access_log_says_who_read_a_dispatch_not_what_it_held(port: Port) -> None:
    handler = await officer(port, "customs")
    site = await make_site(port, team=[handler], since=now_slot(port))
    await run_until(port, now_slot(port), now_slot(port))
    assert ok(await dispatch(port, site, handler.headers))["visits"]
    [entry] = [e for e in await access_log(port.release) if e.action == "visits.dispatch"]
    assert (entry.person_id, entry.outcome, entry.results) == (handler.person.id, "ok", 0)
