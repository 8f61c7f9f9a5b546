"""Threat: a bribed driver (or terminal operator, or customs officer) uses his sign-in to list
his colleagues who may collect containers, or to search the port's register of parties for
whom to approach.

Refused: the driver list is for the party's dispatchers and administrators (403 to the
party's own drivers and operators, who know their party exists); the party search is for
dispatchers of shipping lines, forwarders and carriers (403 to everyone else).
"""

from typing import Any

import pytest

from tests.helpers import assert_problem
from tests.identity.factories import make_party, make_person, person_headers


@pytest.mark.parametrize("role", ["driver", "operator", "officer"])
async def test_the_partys_own_non_dispatchers_do_not_list_its_drivers(
    identity_app: Any, role: str
) -> None:
    app, client = identity_app
    carrier = await make_party(app, "carrier")
    await make_person(app, carrier, "driver", name="Colleague")

    response = await client.get(
        f"/v1/parties/{carrier.id}/drivers", headers=await person_headers(app, carrier, role)
    )

    assert_problem(response, 403, "driver_list_not_allowed")
    assert "Colleague" not in response.text


@pytest.mark.parametrize(
    ("party_role", "person_role"),
    [
        ("carrier", "driver"),
        ("carrier", "operator"),
        ("terminal", "operator"),
        ("terminal", "dispatcher"),
        ("customs", "officer"),
        ("customs", "dispatcher"),
        ("port_security", "officer"),
    ],
)
async def test_only_dispatchers_of_lines_forwarders_and_carriers_search(
    identity_app: Any, party_role: str, person_role: str
) -> None:
    app, client = identity_app
    await make_party(app, "carrier", name="Searchable Haulage")
    headers = await person_headers(app, await make_party(app, party_role), person_role)

    response = await client.get(
        "/v1/directory/parties", params={"q": "searchable"}, headers=headers
    )

    assert_problem(response, 403, "party_search_not_allowed")
    assert "Searchable Haulage" not in response.text


async def test_a_refusal_comes_before_the_query_is_judged(identity_app: Any) -> None:
    # A driver learns nothing from the search, not even which queries it would accept.
    app, client = identity_app
    carrier = await make_party(app, "carrier")
    headers = await person_headers(app, carrier, "driver")

    response = await client.get("/v1/directory/parties", params={"q": "x"}, headers=headers)

    assert_problem(response, 403, "party_search_not_allowed")
