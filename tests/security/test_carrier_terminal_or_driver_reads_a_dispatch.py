"""Threat: the people a visit is meant to surprise learn of it: a carrier, a terminal, a
driver, a shipping line.

They have no business with visits at all: without the `inspections` scope, or a party role
of customs or port security, every visit route refuses them (403) before anything is read;
and naming such a person on a team by mistake gives him nothing.
"""

from tests.identity.factories import bearer, person_token
from tests.release.chains import ok
from tests.release.port import Port
from tests.release.visits import Officer, dispatch, make_site, now_slot, officer, run_until


async def test_no_dispatch_no_sites_no_slots_for_them(port: Port) -> None:
    start = now_slot(port)
    driver = await port.driver("carrier")
    driver_headers = bearer(await person_token(port.identity, driver, port["carrier"].party))
    misnamed = await officer(port, "carrier", role="dispatcher")
    named_driver = Officer(driver, port["carrier"].id, driver_headers)
    site = await make_site(port, team=[misnamed, named_driver], since=start)
    await run_until(port, start, start)
    assert ok(await dispatch(port, site, port["security"].headers), 404)

    callers = {
        "carrier client": port["carrier"].headers,
        "terminal client": port["terminal"].headers,
        "line client": port["line"].headers,
        "terminal operator": await port.person_headers("terminal", "operator"),
        "carrier dispatcher on the team": misnamed.headers,
        "driver on the team": driver_headers,
    }
    period = {"since": "2026-01-01T00:00:00Z", "until": "2100-01-01T00:00:00Z"}
    for who, headers in callers.items():
        for method, path, params in (
            ("GET", f"/v1/sites/{site['site_id']}/dispatch", None),
            ("GET", "/v1/sites", None),
            ("GET", "/v1/sites/slots", period),
            ("GET", f"/v1/sites/{site['site_id']}", None),
        ):
            response = await port.client.request(method, path, params=params, headers=headers)
            assert response.status_code == 403, (who, path, response.text)
