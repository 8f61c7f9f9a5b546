"""Drivers' device keys: registered by the driver himself (or an administrator), certified
by a device credential naming the person, published by person id, and nothing more."""

import time
import uuid
from typing import Any

from services.identity.clock import current_time
from shared import jose
from tests.helpers import assert_problem
from tests.identity.assertions import audit_events
from tests.identity.factories import (
    admin_headers,
    bearer,
    client_token,
    make_party,
    make_person,
    person_token,
)
from tests.identity.oauth_factories import sign_assertion, token_form


async def test_a_driver_registers_his_device_key_and_gets_a_device_credential(
    identity_app: Any,
) -> None:
    app, client = identity_app
    carrier = await make_party(app, "carrier")
    driver = await make_person(app, carrier, "driver")
    device = jose.generate_key()

    response = await client.post(
        f"/v1/people/{driver.id}/device-keys",
        json={"jwk": jose.public_jwk(device)},
        headers=bearer(await person_token(app, driver, carrier)),
    )

    assert response.status_code == 201, response.text
    body = response.json()
    assert body["key"]["kid"] == jose.thumbprint(device)
    assert body["key"]["person_id"] == str(driver.id)
    _, claims = jose.peek(body["credential"])
    assert claims["sub"] == str(driver.id) and claims["party"] == carrier.id
    assert claims["roles"] == ["driver"]
    assert claims["cnf"]["jwk"]["kid"] == jose.thumbprint(device)
    [event] = await audit_events(app, "party_key.device_registered")
    assert event["person_id"] == str(driver.id) and event["actor"] == f"person:{driver.id}"
    directory = await client.get(f"/v1/directory/people/{driver.id}/credentials")
    assert directory.status_code == 200
    assert directory.json() == {
        "person_id": str(driver.id),
        "party_id": carrier.id,
        "credentials": [body["credential"]],
    }
    # Not a party credential: the party directory does not list it.
    party_directory = await client.get(f"/v1/directory/parties/{carrier.id}/credentials")
    assert party_directory.json()["credentials"] == []


async def test_nobody_else_of_the_party_registers_a_drivers_device_key(
    identity_app: Any,
) -> None:
    app, client = identity_app
    carrier = await make_party(app, "carrier")
    driver = await make_person(app, carrier, "driver")
    path = f"/v1/people/{driver.id}/device-keys"
    body = {"jwk": jose.public_jwk(jose.generate_key())}
    callers = [
        bearer(await client_token(app, carrier)),
        bearer(await person_token(app, await make_person(app, carrier, "dispatcher"), carrier)),
        bearer(await person_token(app, await make_person(app, carrier, "admin"), carrier)),
        bearer(await person_token(app, await make_person(app, carrier, "driver"), carrier)),
    ]
    for headers in callers:
        assert_problem(await client.post(path, json=body, headers=headers), 404, "person_not_found")
    _, admin = await admin_headers(app)
    assert (await client.post(path, json=body, headers=admin)).status_code == 201


async def test_only_an_active_driver_gets_a_device_key(identity_app: Any) -> None:
    app, client = identity_app
    carrier = await make_party(app, "carrier")
    _, admin = await admin_headers(app)
    dispatcher = await make_person(app, carrier, "dispatcher")
    suspended = await make_person(app, carrier, "driver", status="suspended")
    body = {"jwk": jose.public_jwk(jose.generate_key())}

    own = await client.post(
        f"/v1/people/{dispatcher.id}/device-keys",
        json=body,
        headers=bearer(await person_token(app, dispatcher, carrier)),
    )
    assert_problem(own, 403, "device_key_for_drivers")
    response = await client.post(f"/v1/people/{suspended.id}/device-keys", json=body, headers=admin)
    assert_problem(response, 409, "person_not_active")
    unknown = await client.get(f"/v1/directory/people/{uuid.uuid4()}/credentials")
    assert_problem(unknown, 404, "person_not_found")


async def test_a_device_key_is_no_party_key(identity_app: Any) -> None:
    app, client = identity_app
    carrier = await make_party(app, "carrier")
    driver = await make_person(app, carrier, "driver")
    _, admin = await admin_headers(app)
    device = jose.generate_key()
    kid = jose.thumbprint(device)
    registered = await client.post(
        f"/v1/people/{driver.id}/device-keys", json={"jwk": jose.public_jwk(device)}, headers=admin
    )
    assert registered.status_code == 201, registered.text

    # It authenticates no API client of the party ...
    now = int(time.time())
    app.dependency_overrides[current_time] = lambda: float(now)
    token = await client.post(
        "/v1/token",
        data=token_form(sign_assertion(device, carrier.id, app.state.settings.issuer, now)),
    )
    assert token.status_code == 401 and token.json()["code"] == "assertion_key_not_certified"
    # ... gets no party credential ...
    issued = await client.post(
        "/v1/credentials", json={"party_id": carrier.id, "kid": kid}, headers=admin
    )
    assert_problem(issued, 422, "key_is_device_key")
    # ... and is listed with the party's keys only to the party and administrators.
    outsider = bearer(await client_token(app, await make_party(app, "forwarder")))
    listed = await client.get(f"/v1/parties/{carrier.id}/keys", headers=outsider)
    assert kid not in [key["kid"] for key in listed.json()]
    own = await client.get(
        f"/v1/parties/{carrier.id}/keys", headers=bearer(await client_token(app, carrier))
    )
    assert [key["person_id"] for key in own.json() if key["kid"] == kid] == [str(driver.id)]
    device_keys = await client.get(
        f"/v1/people/{driver.id}/device-keys",
        headers=bearer(await person_token(app, driver, carrier)),
    )
    assert [key["kid"] for key in device_keys.json()] == [kid]
