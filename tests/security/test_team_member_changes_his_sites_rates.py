"""Threat: a corrupt team member makes his own site quiet: lowers its rate, changes its team,
or closes it, to open a gap for a smuggler.

Sites, rates and teams are port security's (a customs officer is refused); and a person of
port security who is on a site's team may not manage that site either, so whoever is visited
never sets how often. What is changed is logged with who changed it.
"""

from tests.helpers import assert_problem
from tests.release.chains import ok
from tests.release.port import Port, audit_types
from tests.release.visits import make_site, officer

QUIET = {"rates": [[0.0] * 24 for _ in range(7)]}


async def test_the_team_cannot_change_its_sites_rates_team_or_state(port: Port) -> None:
    customs_handler = await officer(port, "customs")
    security_handler = await officer(port, "security")
    site = await make_site(port, rate=4.0, team=[customs_handler, security_handler])
    path = f"/v1/sites/{site['site_id']}"

    quieter = await port.client.put(f"{path}/rates", json=QUIET, headers=customs_handler.headers)
    assert_problem(quieter, 403, "role_required")
    for method, suffix, body in (
        ("PUT", "/rates", QUIET),
        ("PUT", "/team", {"members": []}),
        ("PATCH", "", {"closed": True}),
    ):
        response = await port.client.request(
            method, path + suffix, json=body, headers=security_handler.headers
        )
        assert_problem(response, 403, "team_member_manages_site")

    unchanged = ok(await port.client.get(path, headers=port["security"].headers))
    assert unchanged["rates"][0][0] == 4.0 and len(unchanged["team"]) == 2
    assert unchanged["slots_until"] is None
    assert "visit.rates_set" not in await audit_types(port.release)
