"""Helpers every test package uses: base64url, problem documents, the command line.

Domain-specific factories live beside their tests (`tests/identity/`, `tests/release/`);
what is here has no domain and was once copied into several test modules.
"""

import asyncio
import base64
import json
from typing import Any

import httpx
import typer
from typer.testing import CliRunner, Result


def b64url(data: bytes) -> str:
    """base64url without padding (RFC 7515 section 2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_json(value: object) -> str:
    """base64url without padding of compact JSON (a JWS header or payload)."""
    return b64url(json.dumps(value, separators=(",", ":")).encode())


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The response is an RFC 9457 problem document with this status and code."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert (body["status"], body["code"]) == (status, code), body
    return body


def assert_oauth_problem(
    response: httpx.Response, status: int, error: str, code: str
) -> dict[str, Any]:
    """A problem document that is also an OAuth error response (RFC 6749 section 5.2)."""
    body = assert_problem(response, status, code)
    assert body["error"] == error, body
    assert body["error_description"] == body["detail"], body
    return body


async def invoke_cli(app: typer.Typer, args: list[str], input: str | None = None) -> Result:
    """Run a command-line app in a thread of its own: each command runs its own event loop."""

    def run() -> Result:
        return CliRunner().invoke(app, args, input=input)

    return await asyncio.to_thread(run)
