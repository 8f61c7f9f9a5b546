"""Threat: a bribed dispatcher of one carrier lists another carrier's drivers (names,
screening dates, who has a phone key) to find whom to approach or whose name to use, or
just to learn that the other carrier employs anyone.

Refused: a party's drivers are listed for its own dispatchers, administrators and API client
(and the port's administrators); any other caller gets the 404 of an unknown party, word for
word, so the answer does not even confirm that the party exists or has people.
"""

from typing import Any

from tests.helpers import assert_problem
from tests.identity.factories import bearer, client_token, make_party, make_person, person_headers


async def test_another_carriers_dispatcher_gets_the_404_of_an_unknown_party(
    identity_app: Any,
) -> None:
    app, client = identity_app
    victim = await make_party(app, "carrier")
    await make_person(app, victim, "driver", name="Target Driver")
    rival = await make_party(app, "carrier")
    rival_dispatcher = await person_headers(app, rival, "dispatcher")

    refused = await client.get(f"/v1/parties/{victim.id}/drivers", headers=rival_dispatcher)
    unknown = await client.get("/v1/parties/EU.EORI.NL999999998/drivers", headers=rival_dispatcher)

    body = assert_problem(refused, 404, "party_not_found")
    assert body == assert_problem(unknown, 404, "party_not_found")
    assert "Target Driver" not in refused.text


async def test_another_partys_api_client_and_admin_person_get_it_too(identity_app: Any) -> None:
    app, client = identity_app
    victim = await make_party(app, "carrier")
    await make_person(app, victim, "driver")
    rival = await make_party(app, "carrier", "forwarder")

    for headers in (
        bearer(await client_token(app, rival)),
        await person_headers(app, rival, "admin"),
    ):
        response = await client.get(f"/v1/parties/{victim.id}/drivers", headers=headers)
        assert_problem(response, 404, "party_not_found")


async def test_a_dispatcher_of_a_shipping_line_in_the_chain_gets_it_too(
    identity_app: Any,
) -> None:
    # Being in a chain with a carrier gives no sight of its people: the assignment names
    # one driver, and only the carrier chooses him.
    app, client = identity_app
    carrier = await make_party(app, "carrier")
    await make_person(app, carrier, "driver")
    line = await make_party(app, "shipping_line")

    response = await client.get(
        f"/v1/parties/{carrier.id}/drivers", headers=await person_headers(app, line, "dispatcher")
    )

    assert_problem(response, 404, "party_not_found")
