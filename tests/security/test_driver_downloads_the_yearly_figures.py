"""Threat: a driver, a dispatcher, a terminal or customs downloads port security's yearly
figures (inspections per terminal and what they found, alerts, integrity suspensions) to
judge where a shipment is least likely to be inspected.

The figures are port security's alone, on both services: everyone else gets 403, and the
release service records every attempt in the access log.
"""

import pytest

from tests.helpers import assert_problem
from tests.identity.factories import bearer, client_token
from tests.release.port import Port, access_log


@pytest.mark.parametrize(
    ("member", "role"),
    [
        ("carrier", "driver"),
        ("carrier", "dispatcher"),
        ("carrier", "admin"),
        ("carrier", None),
        ("terminal", "operator"),
        ("terminal", None),
        ("customs", "officer"),
        ("customs", None),
        ("security", "admin"),
    ],
)
async def test_only_port_security_downloads_the_figures(
    port: Port, member: str, role: str | None
) -> None:
    if role == "driver":
        headers = await port.driver_headers(member, await port.driver(member))
    elif role is None:
        headers = port[member].headers
    else:
        headers = await port.person_headers(member, role)
    for client in (port.client, port.identity_client):
        for accept in ("text/csv", "application/json"):
            response = await client.get("/v1/figures/2026", headers={**headers, "Accept": accept})
            assert response.status_code == 403, response.text
            assert response.headers["content-type"].startswith("application/problem+json")
    entries = [e for e in await access_log(port.release) if e.action == "figures.read"]
    assert [e.outcome for e in entries] == ["refused", "refused"]
    officer = await port.person_headers("security", "officer")
    for client in (port.client, port.identity_client):
        assert (await client.get("/v1/figures/2026", headers=officer)).status_code == 200


async def test_port_securitys_client_without_the_alerts_scope_is_refused(port: Port) -> None:
    """A token port security's system took for inspections only does not carry the figures."""
    headers = bearer(await client_token(port.identity, port["security"].party, ["inspections"]))
    for client in (port.client, port.identity_client):
        response = await client.get("/v1/figures/2026", headers=headers)
        assert_problem(response, 403, "scope_required")
