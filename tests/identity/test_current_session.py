"""`GET /v1/sessions/current`: who a person token's holder is, read from the database now."""

from datetime import UTC, datetime, timedelta
from typing import Any

from shared import jose
from tests.helpers import assert_problem
from tests.identity.factories import bearer, client_token, make_party, make_person, person_token

CURRENT = "/v1/sessions/current"


async def test_a_dispatcher_learns_who_he_is_and_his_party(identity_app: Any) -> None:
    app, client = identity_app
    carrier = await make_party(app, "carrier", "forwarder", name="Haulier BV")
    dispatcher = await make_person(app, carrier, "dispatcher", name="Dee Spatcher")

    response = await client.get(
        CURRENT, headers=bearer(await person_token(app, dispatcher, carrier))
    )

    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["person_id"] == str(dispatcher.id)
    assert (body["username"], body["name"], body["role"]) == (
        dispatcher.username,
        "Dee Spatcher",
        "dispatcher",
    )
    assert (body["party_id"], body["party_name"]) == (carrier.id, "Haulier BV")
    assert sorted(body["party_roles"]) == ["carrier", "forwarder"]
    assert body["totp_confirmed"] is True
    assert body["screening_valid"] is True
    assert body["device_keys"] == []
    assert body["needs_device_key"] is False
    assert body["amr"] == ["pwd", "otp"]
    assert body["expires_at"] > body["auth_time"] > 0


async def test_a_driver_without_a_device_key_is_told_to_register_one(identity_app: Any) -> None:
    app, client = identity_app
    carrier = await make_party(app, "carrier")
    driver = await make_person(app, carrier, "driver")
    headers = bearer(await person_token(app, driver, carrier))

    before = (await client.get(CURRENT, headers=headers)).json()
    assert (before["device_keys"], before["needs_device_key"]) == ([], True)

    device = jose.generate_key()
    registered = await client.post(
        f"/v1/people/{driver.id}/device-keys",
        json={"jwk": jose.public_jwk(device)},
        headers=headers,
    )
    assert registered.status_code == 201, registered.text

    after = (await client.get(CURRENT, headers=headers)).json()
    assert [(k["kid"], k["status"]) for k in after["device_keys"]] == [
        (jose.thumbprint(device), "active")
    ]
    assert after["needs_device_key"] is False


async def test_an_unconfirmed_second_factor_and_a_lapsed_screening_show(
    identity_app: Any,
) -> None:
    app, client = identity_app
    carrier = await make_party(app, "carrier")
    driver = await make_person(
        app,
        carrier,
        "driver",
        totp=False,
        screened_until=datetime.now(UTC).date() - timedelta(days=2),
    )

    body = (
        await client.get(CURRENT, headers=bearer(await person_token(app, driver, carrier)))
    ).json()

    assert body["totp_confirmed"] is False
    assert body["screening_valid"] is False
    assert body["screened_until"] == (datetime.now(UTC).date() - timedelta(days=2)).isoformat()


async def test_an_api_client_token_names_no_person(identity_app: Any) -> None:
    app, client = identity_app
    carrier = await make_party(app, "carrier")

    response = await client.get(CURRENT, headers=bearer(await client_token(app, carrier)))

    assert_problem(response, 403, "person_required")


async def test_no_token_is_401(identity_app: Any) -> None:
    _, client = identity_app
    assert_problem(await client.get(CURRENT), 401, "token_missing")


async def test_a_suspended_person_is_401(identity_app: Any) -> None:
    app, client = identity_app
    carrier = await make_party(app, "carrier")
    driver = await make_person(app, carrier, "driver", status="suspended")

    response = await client.get(CURRENT, headers=bearer(await person_token(app, driver, carrier)))

    assert_problem(response, 401, "person_not_active")
