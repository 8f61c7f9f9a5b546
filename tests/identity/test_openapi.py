"""The identity service's OpenAPI document lists the refusals its routes declare themselves
(`problem_responses(...)`: those the central rules of `shared.problems` cannot infer), each
as a problem document."""

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from shared.problems import PROBLEM_MEDIA_TYPE, PROBLEM_SCHEMA

App = tuple[FastAPI, httpx.AsyncClient]

# (method, path): statuses the route answers that no dependency or parameter implies.
DECLARED: dict[tuple[str, str], set[str]] = {
    # RFC 6749 §5.2 errors: problem documents that also carry `error`.
    ("post", "/v1/token"): {"400", "401", "413", "415"},
    # Sign-in has no access token, yet answers 401 for a wrong password or code; 429 locked.
    ("post", "/v1/sessions"): {"401", "422", "429"},
    ("post", "/v1/people/{person_id}/totp"): {"401", "403", "404", "409"},
    ("post", "/v1/people/{person_id}/totp/confirm"): {"401", "403", "404", "409", "429"},
    ("post", "/v1/people/{person_id}/gate-pass"): {"401", "403", "404", "422", "429"},
    # The party named in the body may not exist.
    ("post", "/v1/credentials"): {"404"},
    ("get", "/v1/directory/parties/{party_id}/credentials"): {"404", "422"},
    ("get", "/v1/directory/people/{person_id}/credentials"): {"404", "422"},
    ("post", "/v1/parties/{party_id}/keys"): {"401", "403", "404", "409", "422"},
    ("post", "/v1/sign"): {"401", "403", "409", "422"},
    # Refusals the web front end tells apart (their codes are in each description).
    ("get", "/v1/sessions/current"): {"401", "403"},
    ("get", "/v1/directory/parties"): {"401", "403", "422"},
    ("get", "/v1/parties/{party_id}/drivers"): {"401", "403", "404", "422"},
}

# (method, path): the problem codes a route's OpenAPI descriptions must name.
CODES: dict[tuple[str, str], set[str]] = {
    ("get", "/v1/sessions/current"): {"person_required"},
    ("get", "/v1/directory/parties"): {
        "person_required",
        "party_search_not_allowed",
        "query_too_short",
        "query_too_long",
        "invalid_query",
        "role_not_searchable",
        "invalid_request",
    },
    ("get", "/v1/parties/{party_id}/drivers"): {"driver_list_not_allowed", "party_not_found"},
}


@pytest.fixture
def document(identity_app: App) -> dict[str, Any]:
    """The identity service's OpenAPI document."""
    return identity_app[0].openapi()


@pytest.mark.parametrize(("method", "path"), sorted(DECLARED))
def test_a_route_documents_the_refusals_it_declares(
    document: dict[str, Any], method: str, path: str
) -> None:
    responses = document["paths"][path][method]["responses"]
    assert DECLARED[(method, path)] <= set(responses), sorted(responses)
    for status in DECLARED[(method, path)]:
        content = responses[status]["content"]
        assert set(content) == {PROBLEM_MEDIA_TYPE}, (status, content)
        assert content[PROBLEM_MEDIA_TYPE]["schema"] == PROBLEM_SCHEMA, status


def test_the_token_endpoint_names_the_oauth_error_of_each_status(
    document: dict[str, Any],
) -> None:
    description = document["paths"]["/v1/token"]["post"]["description"]
    for error in ("invalid_request", "invalid_grant", "invalid_client", "invalid_scope"):
        assert f"`{error}`" in description


@pytest.mark.parametrize(("method", "path"), sorted(CODES))
def test_a_route_names_the_codes_of_its_refusals(
    document: dict[str, Any], method: str, path: str
) -> None:
    responses = document["paths"][path][method]["responses"]
    named = " ".join(str(answer.get("description", "")) for answer in responses.values())
    assert {code for code in CODES[(method, path)] if f"`{code}`" not in named} == set()
