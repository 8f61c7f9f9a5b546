"""`GET /v1/parties/{id}/drivers`: the drivers a party's dispatcher may assign now."""

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from services.identity.people.models import Person
from shared import jose
from shared.db import transaction
from tests.helpers import assert_problem
from tests.identity.factories import (
    admin_headers,
    bearer,
    client_token,
    make_party,
    make_person,
    person_headers,
    person_token,
)


def drivers_of(party_id: str) -> str:
    return f"/v1/parties/{party_id}/drivers"


def names(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [item["name"] for item in response.json()["items"]]


async def unscreen(app: Any, person: Person) -> None:
    """Take the person's screening date away (never screened)."""
    async with transaction(app.state.sessions) as session:
        row = await session.get(Person, person.id)
        assert row is not None
        row.screened_until = None
        session.add(row)


async def test_a_dispatcher_lists_his_partys_assignable_drivers(identity_app: Any) -> None:
    app, client = identity_app
    carrier = await make_party(app, "carrier")
    until = datetime.now(UTC).date() + timedelta(days=100)
    bart = await make_person(app, carrier, "driver", name="Bart", screened_until=until)
    await make_person(app, carrier, "driver", name="Anna")
    await make_person(app, carrier, "dispatcher", name="Dirk")
    await make_person(app, carrier, "operator", name="Olga")
    dispatcher = await person_headers(app, carrier, "dispatcher")

    response = await client.get(drivers_of(carrier.id), headers=dispatcher)

    assert names(response) == ["Anna", "Bart"]
    body = response.json()
    assert body["party_id"] == carrier.id
    assert body["items"][1] == {
        "person_id": str(bart.id),
        "name": "Bart",
        "screened_until": until.isoformat(),
        "has_device_key": False,
    }


async def test_suspended_unscreened_and_lapsed_drivers_are_not_offered(
    identity_app: Any,
) -> None:
    app, client = identity_app
    carrier = await make_party(app, "carrier")
    today = datetime.now(UTC).date()
    await make_person(app, carrier, "driver", name="Valid through today", screened_until=today)
    await make_person(app, carrier, "driver", name="Suspended", status="suspended")
    await make_person(
        app, carrier, "driver", name="Lapsed", screened_until=today - timedelta(days=1)
    )
    await unscreen(app, await make_person(app, carrier, "driver", name="Never screened"))

    response = await client.get(
        drivers_of(carrier.id), headers=await person_headers(app, carrier, "dispatcher")
    )

    assert names(response) == ["Valid through today"]


async def test_a_driver_with_an_active_device_key_is_marked(identity_app: Any) -> None:
    app, client = identity_app
    carrier = await make_party(app, "carrier")
    keyed = await make_person(app, carrier, "driver", name="Keyed")
    await make_person(app, carrier, "driver", name="Keyless")
    registered = await client.post(
        f"/v1/people/{keyed.id}/device-keys",
        json={"jwk": jose.public_jwk(jose.generate_key())},
        headers=bearer(await person_token(app, keyed, carrier)),
    )
    assert registered.status_code == 201, registered.text
    dispatcher = await person_headers(app, carrier, "dispatcher")

    items = (await client.get(drivers_of(carrier.id), headers=dispatcher)).json()["items"]

    assert {item["name"]: item["has_device_key"] for item in items} == {
        "Keyed": True,
        "Keyless": False,
    }


async def test_a_retired_device_key_does_not_count(identity_app: Any) -> None:
    app, client = identity_app
    carrier = await make_party(app, "carrier")
    driver = await make_person(app, carrier, "driver")
    device = jose.generate_key()
    headers = bearer(await person_token(app, driver, carrier))
    await client.post(
        f"/v1/people/{driver.id}/device-keys",
        json={"jwk": jose.public_jwk(device)},
        headers=headers,
    )
    _, admin = await admin_headers(app)
    retired = await client.post(
        f"/v1/parties/{carrier.id}/keys/{jose.thumbprint(device)}/retire", headers=admin
    )
    assert retired.status_code == 200, retired.text

    items = (await client.get(drivers_of(carrier.id), headers=admin)).json()["items"]

    assert [item["has_device_key"] for item in items] == [False]


async def test_the_partys_admin_and_client_and_the_ports_admin_list_them_too(
    identity_app: Any,
) -> None:
    app, client = identity_app
    carrier = await make_party(app, "carrier")
    await make_person(app, carrier, "driver", name="Anna")
    admin_party, admin_client = await admin_headers(app)
    callers = [
        await person_headers(app, carrier, "admin"),
        bearer(await client_token(app, carrier)),
        admin_client,
        await person_headers(app, admin_party, "admin"),
    ]

    for headers in callers:
        assert names(await client.get(drivers_of(carrier.id), headers=headers)) == ["Anna"]


async def test_an_unknown_party_is_404_for_an_admin(identity_app: Any) -> None:
    app, client = identity_app
    _, admin = await admin_headers(app)

    response = await client.get(drivers_of("EU.EORI.NL999999999"), headers=admin)

    assert_problem(response, 404, "party_not_found")


async def test_an_overlong_party_id_is_an_invalid_request(identity_app: Any) -> None:
    app, client = identity_app
    _, admin = await admin_headers(app)

    response = await client.get(drivers_of("X" * 65), headers=admin)

    assert_problem(response, 422, "invalid_request")
