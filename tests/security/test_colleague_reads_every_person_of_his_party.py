"""Threat: a bribed driver (or terminal operator) looks up his colleagues one by one, their
names, roles, screening dates and status, to find whom to approach or whose name to use.

Refused: a person sees only himself, unless he is one of his party's dispatchers or
administrators (who assign and manage people); the party's API client sees its people.
"""

from typing import Any

import httpx

from tests.identity.factories import bearer, client_token, make_party, make_person, person_token


async def read(client: httpx.AsyncClient, person: Any, headers: dict[str, str]) -> httpx.Response:
    return await client.get(f"/v1/people/{person.id}", headers=headers)


async def test_a_driver_reads_only_himself(identity_app: Any) -> None:
    app, client = identity_app
    carrier = await make_party(app, "carrier")
    driver = await make_person(app, carrier, "driver")
    colleague = await make_person(app, carrier, "driver")
    dispatcher = await make_person(app, carrier, "dispatcher")
    headers = bearer(await person_token(app, driver, carrier))

    for other in (colleague, dispatcher):
        response = await read(client, other, headers)
        assert response.status_code == 404, response.text
        assert response.json()["code"] == "person_not_found"
    assert (await read(client, driver, headers)).status_code == 200


async def test_an_operator_does_not_read_his_colleagues(identity_app: Any) -> None:
    app, client = identity_app
    terminal = await make_party(app, "terminal")
    operator = await make_person(app, terminal, "operator")
    colleague = await make_person(app, terminal, "operator")
    headers = bearer(await person_token(app, operator, terminal))

    assert (await read(client, colleague, headers)).status_code == 404


async def test_dispatchers_admins_and_the_client_read_their_partys_people(
    identity_app: Any,
) -> None:
    app, client = identity_app
    carrier = await make_party(app, "carrier")
    driver = await make_person(app, carrier, "driver")
    for role in ("dispatcher", "admin"):
        person = await make_person(app, carrier, role)
        headers = bearer(await person_token(app, person, carrier))
        assert (await read(client, driver, headers)).status_code == 200
    client_headers = bearer(await client_token(app, carrier))
    assert (await read(client, driver, client_headers)).status_code == 200
    other = await make_party(app, "carrier")
    outsider = await make_person(app, other, "dispatcher")
    assert (
        await read(client, driver, bearer(await person_token(app, outsider, other)))
    ).status_code == 404
