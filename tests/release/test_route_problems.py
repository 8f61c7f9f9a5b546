"""Each release route documents the problem answers it can give, and no others.

The routes declare their own statuses with `problem_responses(...)` (no router-wide list):
a search documents no 404 or 409, and only the kiosk's gate decision relays the identity
service's 429. What the route's shape implies (413, 404 for a path parameter, 409 for a
state change behind a token) `document_problems` adds.
"""

import uuid
from typing import Any, cast

import httpx
import pytest
from fastapi import FastAPI

from services.release.auth import Caller
from services.release.gate.schemas import DecisionRequest, Reason
from services.release.gate.service import _gate_pass_token
from services.release.identity_api import IdentityApi
from shared.problems import InvalidInput

App = tuple[FastAPI, httpx.AsyncClient]


def problem_statuses(document: dict[str, Any], method: str, path: str) -> set[int]:
    """The 4xx and 5xx statuses documented for one operation."""
    responses = document["paths"][path][method]["responses"]
    return {int(status) for status in responses if status[0] in "45"}


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("get", "/v1/releases", {401, 403, 422, 503}),
        ("get", "/v1/releases/{release_id}", {401, 403, 404, 422, 503}),
        ("get", "/v1/releases/work", {401, 403, 422, 503}),
        ("post", "/v1/releases", {401, 403, 409, 413, 422, 503}),
        ("delete", "/v1/releases/{release_id}/holds/{kind}", {401, 403, 404, 409, 422, 503}),
        ("get", "/v1/releases/{release_id}/chain", {401, 403, 404, 422, 503}),
        ("post", "/v1/gate/decisions", {401, 403, 409, 413, 422, 429, 503}),
        ("get", "/v1/gate/decisions/{decision_id}", {401, 403, 404, 422, 503}),
        ("post", "/v1/gate/decisions/{decision_id}/complete", {401, 403, 404, 409, 422, 503}),
        ("get", "/v1/yard/entries", {401, 403, 422, 503}),
        ("post", "/v1/sites", {401, 403, 409, 413, 422, 503}),
        ("get", "/v1/sites", {401, 403, 422, 503}),
        ("get", "/v1/sites/slots", {401, 403, 422, 503}),
        ("get", "/v1/sites/{site_id}", {401, 403, 404, 422, 503}),
        ("patch", "/v1/sites/{site_id}", {401, 403, 404, 409, 413, 422, 503}),
        ("put", "/v1/sites/{site_id}/rates", {401, 403, 404, 409, 413, 422, 503}),
        ("get", "/v1/sites/{site_id}/dispatch", {401, 403, 404, 422, 503}),
        (
            "post",
            "/v1/sites/{site_id}/visits/{visit_id}/outcome",
            {401, 403, 404, 409, 413, 422, 503},
        ),
    ],
)
async def test_each_route_documents_the_problems_it_can_answer(
    release_app: App, method: str, path: str, expected: set[int]
) -> None:
    app, _ = release_app
    assert problem_statuses(app.openapi(), method, path) == expected


async def test_a_gate_question_built_without_gate_pass_or_kiosk_facts_is_refused() -> None:
    # The schema refuses such a body; one built past it (model_construct) is refused too,
    # before anything is asked of the identity service (neither argument is touched).
    body = DecisionRequest.model_construct(
        container="MSCU1234565", gate_pass=None, driver=uuid.uuid4(), otp=None
    )
    reasons: list[Reason] = []
    with pytest.raises(InvalidInput) as refusal:
        await _gate_pass_token(cast(IdentityApi, None), cast(Caller, None), body, reasons)
    assert refusal.value.code == "gate_pass_or_kiosk_required"
    assert reasons == []
