"""Threat: a driver, dispatcher or terminal operator whose certificate of conduct has run
out (or was never recorded) goes on working: he signs in with his password and code as
before, and nobody notices that his screening lapsed.

Refused: the sign-in of a role that needs screening (driver, dispatcher, operator) is
refused with `screening_expired` once the screening date is past or missing, audited as a
refused sign-in; a driver at a terminal's kiosk gets no gate pass either. Renewing the
screening lets him in again at once.
"""

from datetime import UTC, datetime, timedelta

import httpx
from fastapi import FastAPI

from services.identity.people.models import Person
from tests.helpers import assert_problem
from tests.identity.assertions import audit_events
from tests.identity.conftest import Clock
from tests.identity.factories import (
    PASSWORD,
    admin_headers,
    bearer,
    client_token,
    make_party,
    make_person,
    totp_now,
)

App = tuple[FastAPI, httpx.AsyncClient]


def _credentials(person: Person, clock: Clock) -> dict[str, str]:
    return {"username": person.username, "password": PASSWORD, "otp": totp_now(clock.now)}


async def test_a_lapsed_screening_keeps_people_out_until_renewed(
    identity_app: App, clock: Clock
) -> None:
    app, client = identity_app
    _, admin = await admin_headers(app)
    carrier = await make_party(app, "carrier")
    terminal = await make_party(app, "terminal")
    yesterday = datetime.fromtimestamp(clock.now, UTC).date() - timedelta(days=1)
    driver = await make_person(app, carrier, "driver", screened_until=yesterday)
    dispatcher = await make_person(app, carrier, "dispatcher", screened_until=yesterday)
    operator = await make_person(app, terminal, "operator", screened_until=yesterday)

    for person in (driver, dispatcher, operator):
        refused = await client.post("/v1/sessions", json=_credentials(person, clock))
        assert_problem(refused, 401, "screening_expired")
        assert "access_token" not in refused.text
    kiosk = bearer(await client_token(app, terminal))
    clock.now += 30  # the next time step: each code is good once
    at_the_gate = await client.post(
        f"/v1/people/{driver.id}/gate-pass", json={"otp": totp_now(clock.now)}, headers=kiosk
    )
    assert_problem(at_the_gate, 403, "screening_expired")

    refusals = await audit_events(app, "person.sign_in_refused")
    assert [(e["person_id"], e["reason"]) for e in refusals] == [
        (str(p.id), "screening_expired") for p in (driver, dispatcher, operator)
    ]
    assert await audit_events(app, "person.signed_in") == []

    renewed = (datetime.fromtimestamp(clock.now, UTC).date() + timedelta(days=365)).isoformat()
    changed = await client.patch(
        f"/v1/people/{dispatcher.id}", json={"screened_until": renewed}, headers=admin
    )
    assert changed.status_code == 200, changed.text
    clock.now += 30
    signed_in = await client.post("/v1/sessions", json=_credentials(dispatcher, clock))
    assert signed_in.status_code == 200, signed_in.text


async def test_a_screening_never_recorded_is_no_screening(identity_app: App, clock: Clock) -> None:
    app, client = identity_app
    _, admin = await admin_headers(app)
    carrier = await make_party(app, "carrier")
    driver = await make_person(app, carrier, "driver")
    removed = await client.patch(
        f"/v1/people/{driver.id}", json={"screened_until": None}, headers=admin
    )
    assert removed.status_code == 200, removed.text

    refused = await client.post("/v1/sessions", json=_credentials(driver, clock))

    assert_problem(refused, 401, "screening_expired")
