"""`GET /v1/directory/parties?q=`: dispatchers find counterparties by name or EORI id."""

from typing import Any

import httpx
import pytest

from services.identity.parties.models import Party
from services.identity.parties.service import MAX_SEARCH_RESULTS
from tests.helpers import assert_problem
from tests.identity.factories import admin_headers, make_party, person_headers

SEARCH = "/v1/directory/parties"


async def search(
    client: httpx.AsyncClient, headers: dict[str, str], q: str, **params: str
) -> httpx.Response:
    return await client.get(SEARCH, params={"q": q, **params}, headers=headers)


def ids(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


@pytest.fixture
async def dispatcher(identity_app: Any) -> dict[str, str]:
    """A signed-in dispatcher of a forwarder."""
    app, _ = identity_app
    return await person_headers(app, await make_party(app, "forwarder"), "dispatcher")


async def test_a_name_is_found_by_any_part_in_any_case(
    identity_app: Any, dispatcher: dict[str, str]
) -> None:
    app, client = identity_app
    haulier = await make_party(app, "carrier", name="Rijnmond Haulage BV")

    for q in ("rijnmond", "HAULAGE", "mond hau", "  haul  "):
        response = await search(client, dispatcher, q)
        assert ids(response) == [haulier.id], q
    item = response.json()["items"][0]
    assert item == {"id": haulier.id, "name": "Rijnmond Haulage BV", "roles": ["carrier"]}
    assert response.json()["truncated"] is False


async def test_an_eori_id_is_found_by_its_start(
    identity_app: Any, dispatcher: dict[str, str]
) -> None:
    app, client = identity_app
    carrier = await make_party(app, "carrier", name="Zeta Transport")
    national = carrier.id.removeprefix("EU.EORI.")

    for q in (carrier.id, national, national[:8].lower(), "eu.eori." + national[:9]):
        assert carrier.id in ids(await search(client, dispatcher, q)), q


async def test_wildcards_in_the_query_are_plain_characters(
    identity_app: Any, dispatcher: dict[str, str]
) -> None:
    app, client = identity_app
    await make_party(app, "carrier", name="Ordinary Carrier")
    percent = await make_party(app, "carrier", name="100% Reliable")

    assert ids(await search(client, dispatcher, "%%%")) == []
    assert ids(await search(client, dispatcher, "___")) == []
    assert ids(await search(client, dispatcher, "0% r")) == [percent.id]


async def test_only_active_counterparties_are_found(
    identity_app: Any, dispatcher: dict[str, str]
) -> None:
    app, client = identity_app
    name = "Quokka Shipping"
    found = [
        await make_party(app, role, name=f"{name} {role}")
        for role in ("shipping_line", "forwarder", "carrier", "terminal")
    ]
    for role in ("customs", "port_security", "admin"):
        await make_party(app, role, name=f"{name} {role}")
    for status in ("suspended", "revoked"):
        await make_party(app, "carrier", name=f"{name} {status}", status=status)

    assert sorted(ids(await search(client, dispatcher, "quokka"))) == sorted(p.id for p in found)


async def test_a_role_narrows_the_search(identity_app: Any, dispatcher: dict[str, str]) -> None:
    app, client = identity_app
    carrier = await make_party(app, "carrier", name="Wombat Logistics")
    await make_party(app, "terminal", name="Wombat Terminal")

    assert ids(await search(client, dispatcher, "wombat", role="carrier")) == [carrier.id]
    response = await search(client, dispatcher, "wombat", role="customs")
    assert_problem(response, 422, "role_not_searchable")
    assert_problem(
        await search(client, dispatcher, "wombat", role="pirate"), 422, "invalid_request"
    )


async def test_names_that_start_with_the_query_come_first(
    identity_app: Any, dispatcher: dict[str, str]
) -> None:
    app, client = identity_app
    inner = await make_party(app, "carrier", name="Aaa Numbat Lines")
    start = await make_party(app, "carrier", name="Numbat Lines")

    assert ids(await search(client, dispatcher, "numbat")) == [start.id, inner.id]


async def test_at_most_twenty_are_answered_and_the_rest_is_said(
    identity_app: Any, dispatcher: dict[str, str]
) -> None:
    app, client = identity_app
    made: list[Party] = [
        await make_party(app, "carrier", name=f"Dingo Freight {n:02d}")
        for n in range(MAX_SEARCH_RESULTS + 1)
    ]

    response = await search(client, dispatcher, "dingo")

    assert len(ids(response)) == MAX_SEARCH_RESULTS == 20
    assert response.json()["truncated"] is True
    assert ids(response) == [p.id for p in made[:MAX_SEARCH_RESULTS]]  # by name


@pytest.mark.parametrize(
    ("q", "code"),
    [
        ("ab", "query_too_short"),
        ("   ab   ", "query_too_short"),
        ("", "query_too_short"),
        ("x" * 101, "query_too_long"),
        ("ab\x00c", "invalid_query"),
        ("ab\u200bc", "invalid_query"),
    ],
)
async def test_bad_queries_are_422_problems(
    identity_app: Any, dispatcher: dict[str, str], q: str, code: str
) -> None:
    _, client = identity_app
    assert_problem(await search(client, dispatcher, q), 422, code)


async def test_a_missing_query_is_an_invalid_request(
    identity_app: Any, dispatcher: dict[str, str]
) -> None:
    _, client = identity_app
    assert_problem(await client.get(SEARCH, headers=dispatcher), 422, "invalid_request")


async def test_dispatchers_of_lines_forwarders_and_carriers_and_admins_search(
    identity_app: Any,
) -> None:
    app, client = identity_app
    target = await make_party(app, "carrier", name="Bilby Haulage")
    for role in ("shipping_line", "forwarder", "carrier"):
        headers = await person_headers(app, await make_party(app, role), "dispatcher")
        assert ids(await search(client, headers, "bilby")) == [target.id], role
    admin_party, admin_client = await admin_headers(app)
    assert ids(await search(client, admin_client, "bilby")) == [target.id]
    admin_person = await person_headers(app, admin_party, "admin")
    assert ids(await search(client, admin_person, "bilby")) == [target.id]
