"""The identity service has the same alerts API, from the same shared code."""

import httpx
from fastapi import FastAPI

from tests.helpers import assert_problem
from tests.identity.factories import bearer, client_token, make_party, person_headers
from tests.monitoring.alerting import events, raise_one

App = tuple[FastAPI, httpx.AsyncClient]


async def test_port_security_lists_acknowledges_and_closes_identity_alerts(
    identity_app: App,
) -> None:
    app, client = identity_app
    alert_id = await raise_one(app, kind="failed_sign_ins", subject="address:192.0.2.7")
    security = await make_party(app, "port_security")
    officer = await person_headers(app, security, "officer")
    reader = bearer(await client_token(app, security, ["alerts:read"]))

    listed = await client.get("/v1/alerts", params={"status": "open"}, headers=reader)
    assert listed.status_code == 200, listed.text
    assert [a["alert_id"] for a in listed.json()["alerts"]] == [str(alert_id)]
    assert_problem(
        await client.post(f"/v1/alerts/{alert_id}/acknowledge", headers=reader),
        403,
        "person_required",
    )
    acked = await client.post(f"/v1/alerts/{alert_id}/acknowledge", headers=officer)
    assert acked.status_code == 200, acked.text
    closed = await client.post(
        f"/v1/alerts/{alert_id}/close",
        json={"outcome": "confirmed", "reason": "a scan from one address"},
        headers=officer,
    )
    assert closed.json()["status"] == "closed"
    assert [e["alert_id"] for e in await events(app, "alert.closed")] == [str(alert_id)]


async def test_other_parties_are_refused_the_identity_alerts(identity_app: App) -> None:
    app, client = identity_app
    await raise_one(app)
    carrier = await make_party(app, "carrier")
    admin = await make_party(app, "admin")
    for headers in (
        await person_headers(app, carrier, "dispatcher"),
        bearer(await client_token(app, carrier)),
        bearer(await client_token(app, admin)),
    ):
        assert_problem(await client.get("/v1/alerts", headers=headers), 403, "role_required")
