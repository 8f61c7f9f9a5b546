"""Threat: a bribed dispatcher uses the party search to copy the port's register of parties
(who works here, under which EORI numbers), a letter at a time or with wildcards, to pick
whom to impersonate or approach.

Refused: a query has at least 3 characters (an EORI id at least its country code and 3
characters of the number); `%` and `_` are plain characters, not wildcards; at most 20
parties are answered, with no next page; only active counterparties are listed, never
customs, port security or the port's administration; each search is logged with its caller
and query.
"""

from typing import Any

import pytest
from structlog.testing import capture_logs

from services.identity.parties.service import MAX_SEARCH_RESULTS, MIN_QUERY_LENGTH
from tests.helpers import assert_problem
from tests.identity.factories import make_party, person_headers

SEARCH = "/v1/directory/parties"


@pytest.fixture
async def dispatcher(identity_app: Any) -> dict[str, str]:
    app, _ = identity_app
    return await person_headers(app, await make_party(app, "carrier"), "dispatcher")


@pytest.mark.parametrize("q", ["a", "ab", " a ", "%", "%%", "NL", "  nl  "])
async def test_short_queries_are_refused(
    identity_app: Any, dispatcher: dict[str, str], q: str
) -> None:
    app, client = identity_app
    await make_party(app, "carrier", name="Abacus Lines")
    assert len(q.strip()) < MIN_QUERY_LENGTH

    response = await client.get(SEARCH, params={"q": q}, headers=dispatcher)

    assert_problem(response, 422, "query_too_short")
    assert "Abacus" not in response.text


@pytest.mark.parametrize(
    "q", ["%%%", "___", "%_%", "\\%%", "EU.", "nl1", "EU.EORI.NL", "EU.EORI.", "eu.eori.nl"]
)
async def test_wildcards_and_bare_prefixes_list_nobody(
    identity_app: Any, dispatcher: dict[str, str], q: str
) -> None:
    app, client = identity_app
    for n in range(3):
        await make_party(app, "carrier", name=f"Party {n}")

    response = await client.get(SEARCH, params={"q": q}, headers=dispatcher)

    assert response.status_code == 200, response.text
    assert response.json()["items"] == []


async def test_a_common_fragment_answers_twenty_and_no_next_page(
    identity_app: Any, dispatcher: dict[str, str]
) -> None:
    app, client = identity_app
    for n in range(MAX_SEARCH_RESULTS + 5):
        await make_party(app, "carrier", name=f"Common Transport {n:02d}")

    response = await client.get(
        SEARCH, params={"q": "transport", "limit": "500", "after": "x"}, headers=dispatcher
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert len(body["items"]) == MAX_SEARCH_RESULTS
    assert body["truncated"] is True
    assert set(body) == {"items", "truncated"}  # no cursor to page on with


async def test_a_country_code_and_a_digit_or_two_list_nobody(
    identity_app: Any, dispatcher: dict[str, str]
) -> None:
    app, client = identity_app
    party = await make_party(app, "carrier", name="Numbered Party")
    national = party.id.removeprefix("EU.EORI.")

    for q in (national[:3], national[:4], "EU.EORI." + national[:4]):
        response = await client.get(SEARCH, params={"q": q}, headers=dispatcher)
        assert response.status_code == 200, response.text
        assert response.json()["items"] == [], q
    response = await client.get(SEARCH, params={"q": national[:5]}, headers=dispatcher)
    assert party.id in [item["id"] for item in response.json()["items"]]


async def test_overseers_and_the_administration_are_not_listed(
    identity_app: Any, dispatcher: dict[str, str]
) -> None:
    app, client = identity_app
    for role in ("customs", "port_security", "admin"):
        await make_party(app, role, name=f"Hidden {role}")

    response = await client.get(SEARCH, params={"q": "hidden"}, headers=dispatcher)

    assert response.json()["items"] == []


async def test_each_search_is_logged_with_its_caller_and_query(
    identity_app: Any, dispatcher: dict[str, str]
) -> None:
    app, client = identity_app
    await make_party(app, "carrier", name="Logged Haulage")

    with capture_logs() as logs:
        response = await client.get(SEARCH, params={"q": "logged"}, headers=dispatcher)

    assert response.status_code == 200, response.text
    [entry] = [log for log in logs if log["event"] == "party_search"]
    assert entry["query"] == "logged"
    assert entry["results"] == 1
    assert entry["actor"].startswith("person:")
