"""Threat: whoever holds a party's API-client token (its system, or someone who copied the
token from it) presents it to the web front end as if a person had signed in, and acts in
the web with no person named, no second factor and nobody to hold to account.

Refused: `GET /v1/sessions/current`, which the web asks first, answers only for a person
token (403 `person_required` to a client's); so does the dispatchers' party search.
"""

from typing import Any

from tests.helpers import assert_problem
from tests.identity.factories import admin_headers, bearer, client_token, make_party


async def test_a_client_token_is_no_signed_in_person(identity_app: Any) -> None:
    app, client = identity_app
    for roles in (("carrier",), ("shipping_line",), ("terminal",)):
        party = await make_party(app, *roles)
        headers = bearer(await client_token(app, party, ["releases:read", "chain:write"]))

        response = await client.get("/v1/sessions/current", headers=headers)

        body = assert_problem(response, 403, "person_required")
        assert party.id not in body["detail"]


async def test_not_even_an_administrators_client_token(identity_app: Any) -> None:
    app, client = identity_app
    _, admin = await admin_headers(app)

    assert_problem(await client.get("/v1/sessions/current", headers=admin), 403, "person_required")


async def test_a_client_token_does_not_search_as_a_dispatcher(identity_app: Any) -> None:
    app, client = identity_app
    carrier = await make_party(app, "carrier")

    response = await client.get(
        "/v1/directory/parties",
        params={"q": "anything"},
        headers=bearer(await client_token(app, carrier)),
    )

    assert_problem(response, 403, "person_required")
