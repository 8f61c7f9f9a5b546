"""Threat: someone outside port security reads the alerts (to learn what is watched), or
closes an alert about himself, or raises a threshold so that he is no longer seen. Only port
security reads alerts and rules; only its officers (people, never a client token) decide.
"""

import pytest

from tests.helpers import assert_problem
from tests.monitoring.alerting import raise_one
from tests.release.port import Port

CLOSE = {"outcome": "unfounded", "reason": "nothing to see"}
RULE = {"enabled": False}


@pytest.mark.parametrize(
    "member,role",
    [
        ("carrier", "dispatcher"),
        ("terminal", "operator"),
        ("customs", "officer"),
        ("line", None),
        ("carrier", None),
    ],
)
async def test_no_other_party_reads_or_decides_alerts(
    port: Port, member: str, role: str | None
) -> None:
    alert_id = await raise_one(port.release)
    headers = port[member].headers if role is None else await port.person_headers(member, role)
    for method, path, body in (
        ("GET", "/v1/alerts", None),
        ("GET", f"/v1/alerts/{alert_id}", None),
        ("GET", "/v1/alerts/stream?idle=0", None),
        ("GET", "/v1/monitoring/rules", None),
        ("POST", f"/v1/alerts/{alert_id}/acknowledge", None),
        ("POST", f"/v1/alerts/{alert_id}/close", CLOSE),
        ("PUT", "/v1/monitoring/rules/out_of_scope_lookups", RULE),
    ):
        response = await port.client.request(method, path, json=body, headers=headers)
        assert_problem(response, 403, "role_required")


async def test_a_driver_is_refused_the_alerts(port: Port) -> None:
    alert_id = await raise_one(port.release)
    driver = await port.driver("carrier")
    headers = await port.driver_headers("carrier", driver)
    assert_problem(await port.client.get("/v1/alerts", headers=headers), 403, "role_required")
    assert_problem(
        await port.client.post(f"/v1/alerts/{alert_id}/close", json=CLOSE, headers=headers),
        403,
        "role_required",
    )


async def test_port_securitys_client_token_reads_but_never_decides(port: Port) -> None:
    alert_id = await raise_one(port.release)
    client = port["security"].headers
    assert (await port.client.get("/v1/alerts", headers=client)).status_code == 200
    assert (await port.client.get("/v1/monitoring/rules", headers=client)).status_code == 200
    for method, path, body in (
        ("POST", f"/v1/alerts/{alert_id}/acknowledge", None),
        ("POST", f"/v1/alerts/{alert_id}/close", CLOSE),
        ("PUT", "/v1/monitoring/rules/out_of_scope_lookups", RULE),
    ):
        response = await port.client.request(method, path, json=body, headers=client)
        assert_problem(response, 403, "person_required")
    officer = await port.person_headers("security", "officer")
    still = await port.client.get(f"/v1/alerts/{alert_id}", headers=officer)
    assert still.json()["status"] == "open"


async def test_a_port_security_person_who_is_no_officer_only_gets_403(port: Port) -> None:
    alert_id = await raise_one(port.release)
    admin = await port.person_headers("security", "admin")
    assert_problem(await port.client.get("/v1/alerts", headers=admin), 403, "role_required")
    assert_problem(
        await port.client.post(f"/v1/alerts/{alert_id}/acknowledge", headers=admin),
        403,
        "role_required",
    )
