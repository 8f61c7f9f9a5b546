"""The OpenAPI documents say what the services answer: the findings of the hostile-input run.

Before, about one answer in ten that schemathesis judged was not in the documents: problem
documents listed as `application/json` (FastAPI's validation error), 401/403/404/409/413 not
listed on most identity routes, the audit log's text and tile answers without a content type
or their 404, and an undocumented 400 for a body that cannot be parsed.
"""

import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from services.registry import SERVICES
from shared.problems import DEPENDENCY_PROBLEMS, PROBLEM_MEDIA_TYPE
from tests.conftest import SettingsFactory, running

App = tuple[FastAPI, httpx.AsyncClient]


def operations(document: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(label, operation) of every operation of the document."""
    return [
        (f"{method.upper()} {path}", operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
    ]


def documented(document: dict[str, Any], method: str, path: str) -> set[str]:
    """The statuses documented for one operation."""
    return set(document["paths"][path][method.lower()]["responses"])


@pytest.fixture(params=["identity", "release"])
async def document(request: pytest.FixtureRequest, make_settings: SettingsFactory) -> Any:
    """The OpenAPI document each service serves."""
    app = SERVICES[request.param].create_app(make_settings(request.param))
    async with running(app) as client:
        response = await client.get("/openapi.json")
    assert response.status_code == 200
    return response.json()


async def test_every_error_answer_is_documented_as_a_problem_document(
    document: dict[str, Any],
) -> None:
    """No 4xx or 5xx is documented as plain JSON (FastAPI's HTTPValidationError) or bare."""
    wrong = [
        f"{label} {status}"
        for label, operation in operations(document)
        for status, response in operation["responses"].items()
        if status[0] in "45" and set(response.get("content", {})) != {PROBLEM_MEDIA_TYPE}
    ]
    assert not wrong
    assert "HTTPValidationError" not in document.get("components", {}).get("schemas", {})
    schemas = [
        response["content"][PROBLEM_MEDIA_TYPE].get("schema", {})
        for _, operation in operations(document)
        for status, response in operation["responses"].items()
        if status[0] in "45"
    ]
    assert all(
        {"type", "title", "status", "code", "detail"} <= set(s.get("required", [])) for s in schemas
    )


async def test_a_route_with_a_path_or_a_body_documents_404_413_and_422(
    document: dict[str, Any],
) -> None:
    """An id in the path may name nothing (404); a body may be too large (413) or invalid."""
    for label, operation in operations(document):
        statuses = set(operation["responses"])
        if "{" in label:
            assert "404" in statuses, label
        if "requestBody" in operation:
            # 422, or 400 where a standard says so (the OAuth token endpoint).
            assert "413" in statuses and statuses & {"400", "422"}, label


async def test_identity_admin_routes_document_what_they_refuse(
    identity_app: App,
) -> None:
    """The routes the review named: parties, people and credentials answer 401/403/404/409."""
    document = identity_app[0].openapi()
    assert {"401", "403", "409", "413", "422"} <= documented(document, "POST", "/v1/parties")
    assert {"401", "403", "404", "409"} <= documented(
        document, "POST", "/v1/parties/{party_id}/suspend"
    )
    assert {"401", "403", "404"} <= documented(document, "GET", "/v1/people/{person_id}")
    # The party named in the body of a credential request is looked up: 404 when unknown.
    assert {"401", "403", "404", "409"} <= documented(document, "POST", "/v1/credentials")


async def test_audit_log_text_and_tiles_document_their_content_types_and_404(
    release_app: App,
) -> None:
    """Tiles are octet streams, keys, checkpoints and receipts text; each may not exist (404)."""
    paths = release_app[0].openapi()["paths"]
    tile = paths["/log/tile/{path}"]["get"]["responses"]
    assert set(tile["200"]["content"]) == {"application/octet-stream"}
    assert "404" in tile
    for path in ("/log/key", "/log/checkpoint", "/v1/log/events/{event_id}/receipt"):
        responses = paths[path]["get"]["responses"]
        assert set(responses["200"]["content"]) == {"text/plain; charset=utf-8"}, path
    assert "404" in paths["/log/checkpoint"]["get"]["responses"]
    assert "404" in paths["/v1/log/events/{event_id}/receipt"]["get"]["responses"]


@pytest.mark.parametrize(
    "body", [b'{"container": "\xff"}', b'{"container": '], ids=["not-utf-8", "broken-json"]
)
async def test_a_body_that_cannot_be_parsed_is_a_documented_422_problem(
    release_app: App, body: bytes
) -> None:
    """Not JSON at all is refused like JSON that does not fit: 422 `invalid_request`."""
    app, client = release_app
    response = await client.post(
        "/v1/releases", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    assert response.json()["code"] == "invalid_request"
    assert "422" in documented(app.openapi(), "POST", "/v1/releases")


async def test_an_unreadable_checkpoint_or_receipt_is_a_documented_404(release_app: App) -> None:
    """Before the first checkpoint, the checkpoint and any receipt are 404 problems."""
    app, client = release_app
    for path in ("/log/checkpoint", "/v1/log/events/00000000-0000-4000-8000-000000000000/receipt"):
        response = await client.get(path)
        assert response.status_code == 404, path
        assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    assert "404" in documented(app.openapi(), "GET", "/log/checkpoint")


async def test_a_method_a_route_does_not_take_is_405_naming_the_methods_it_takes(
    release_app: App,
) -> None:
    """RFC 9110: a 405 carries `Allow`, so a client learns what the route takes."""
    _, client = release_app
    response = await client.delete("/v1/gate/decisions")
    assert response.status_code == 405
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    assert response.json()["code"] == "method_not_allowed"
    assert "POST" in response.headers["allow"]
    # A path served by two routes (list and create): both methods, not the first route's.
    response = await client.delete("/v1/releases")
    assert response.status_code == 405
    assert {"GET", "POST"} <= {m.strip() for m in response.headers["allow"].split(",")}


def test_the_table_in_docs_names_every_dependency_that_adds_problems() -> None:
    """docs/fuzzing.md lists what each dependency adds, as `DEPENDENCY_PROBLEMS` says."""
    text = (Path(__file__).parents[2] / "docs" / "fuzzing.md").read_text()
    rows = [line.split("|") for line in text.splitlines() if line.startswith("| ")]
    for name, statuses in DEPENDENCY_PROBLEMS.items():
        written = {
            int(status)
            for row in rows
            if f"`{name}`" in row[1]
            for status in re.findall(r"\b([45]\d\d)\b", row[2])
        }
        assert written == statuses, name
