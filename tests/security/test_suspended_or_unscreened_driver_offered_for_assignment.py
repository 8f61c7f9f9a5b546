"""Threat: a dispatcher (bribed, or only hurried) assigns a driver who may no longer collect:
suspended after an incident, never screened, or whose certificate of conduct has lapsed,
because the list he picks from still offers him.

Refused: the list offers only active drivers screened at least through today (the rule the
gate pass and the chain apply), read from the database at each request, so a suspension or
a screening change shows at once.
"""

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.identity.factories import admin_headers, make_party, make_person, person_headers


def offered(response: httpx.Response) -> set[str]:
    assert response.status_code == 200, response.text
    return {item["person_id"] for item in response.json()["items"]}


async def test_suspension_takes_a_driver_off_the_list_at_once(identity_app: Any) -> None:
    app, client = identity_app
    carrier = await make_party(app, "carrier")
    driver = await make_person(app, carrier, "driver")
    dispatcher = await person_headers(app, carrier, "dispatcher")
    _, admin = await admin_headers(app)
    listing = f"/v1/parties/{carrier.id}/drivers"
    assert offered(await client.get(listing, headers=dispatcher)) == {str(driver.id)}

    suspended = await client.post(f"/v1/people/{driver.id}/suspend", headers=admin)
    assert suspended.status_code == 200, suspended.text
    assert offered(await client.get(listing, headers=dispatcher)) == set()

    reinstated = await client.post(f"/v1/people/{driver.id}/reinstate", headers=admin)
    assert reinstated.status_code == 200, reinstated.text
    assert offered(await client.get(listing, headers=dispatcher)) == {str(driver.id)}


async def test_a_lapsed_or_removed_screening_takes_him_off(identity_app: Any) -> None:
    app, client = identity_app
    carrier = await make_party(app, "carrier")
    driver = await make_person(app, carrier, "driver")
    dispatcher = await person_headers(app, carrier, "dispatcher")
    _, admin = await admin_headers(app)
    listing = f"/v1/parties/{carrier.id}/drivers"
    yesterday = (datetime.now(UTC).date() - timedelta(days=1)).isoformat()

    for screened_until in (yesterday, None):
        changed = await client.patch(
            f"/v1/people/{driver.id}", json={"screened_until": screened_until}, headers=admin
        )
        assert changed.status_code == 200, changed.text
        assert offered(await client.get(listing, headers=dispatcher)) == set(), screened_until


async def test_a_driver_of_a_suspended_party_is_not_listed_to_its_dispatcher(
    identity_app: Any,
) -> None:
    # The party's suspension stops its people's tokens: its dispatcher is refused outright.
    app, client = identity_app
    carrier = await make_party(app, "carrier")
    await make_person(app, carrier, "driver")
    dispatcher = await person_headers(app, carrier, "dispatcher")
    _, admin = await admin_headers(app)
    assert (await client.post(f"/v1/parties/{carrier.id}/suspend", headers=admin)).is_success

    response = await client.get(f"/v1/parties/{carrier.id}/drivers", headers=dispatcher)

    assert response.status_code == 401, response.text
    assert response.json()["code"] == "party_not_active"
