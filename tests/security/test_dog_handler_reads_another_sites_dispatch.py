"""Threat: a dog handler of one site reads, or writes on, another site's visits.

A site's dispatch and its visits are its team's alone: to an officer of another site, to a
colleague of the same party who is not on the team, and to port security's own client the
site does not exist (404, the same answer as for a site that does not exist at all), and a
visit of one site cannot be reached through another.
"""

from tests.helpers import assert_problem
from tests.release.chains import ok
from tests.release.port import Port
from tests.release.visits import dispatch, make_site, now_slot, officer, run_until

SLOT_SECONDS = 300


async def test_another_sites_dispatch_and_visits_are_not_there(port: Port) -> None:
    handler_a = await officer(port, "customs")
    handler_b = await officer(port, "security")
    colleague = await officer(port, "customs")  # same party as handler_a, on no team
    start = now_slot(port)
    site_a = await make_site(port, team=[handler_a], since=start, name="Gate lanes")
    site_b = await make_site(port, team=[handler_b], since=start, name="Auction hall")
    await run_until(port, start, start)
    visits_b = ok(await dispatch(port, site_b, handler_b.headers))["visits"]
    assert visits_b

    for intruder in (handler_a, colleague):
        assert_problem(await dispatch(port, site_b, intruder.headers), 404, "site_not_found")
    assert_problem(await dispatch(port, site_b, port["security"].headers), 404, "site_not_found")
    assert_problem(await dispatch(port, site_a, handler_b.headers), 404, "site_not_found")

    visit = visits_b[0]["visit_id"]
    body = {"outcome": "missed", "reason": "other"}
    through_own = await port.client.post(
        f"/v1/sites/{site_a['site_id']}/visits/{visit}/outcome",
        json=body,
        headers=handler_a.headers,
    )
    assert_problem(through_own, 404, "visit_not_found")
    directly = await port.client.post(
        f"/v1/sites/{site_b['site_id']}/visits/{visit}/outcome",
        json=body,
        headers=handler_a.headers,
    )
    assert_problem(directly, 404, "site_not_found")
    after = ok(await dispatch(port, site_b, handler_b.headers))["visits"]
    assert after[0]["outcome"] is None
