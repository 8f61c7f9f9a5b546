"""Calls to the identity and release services, as the signed-in person.

Every call carries the person's own bearer token (or none, for sign-in): the front end has
no credential of its own, so it can do nothing an API client with that token could not.
A problem document the service answers becomes `ApiProblem`, which the app shows as a page
in the person's language; an unreachable service becomes `ApiProblem` with code
`service_unavailable`.
"""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx


@dataclass
class ApiProblem(Exception):
    """A service said no (or could not be reached): its status, stable code and detail."""

    status: int
    code: str
    detail: str
    service: str = ""

    def __str__(self) -> str:
        return f"{self.service} {self.status} {self.code}: {self.detail}"


class Api:
    """One service, called with one person's token."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        base_url: str,
        name: str,
        token: str | None,
        forwarded_for: str | None = None,
    ) -> None:
        self._client = client
        self._base = base_url.rstrip("/")
        self.name = name
        self._token = token
        self._forwarded_for = forwarded_for

    async def call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        accept: str = "application/json",
    ) -> httpx.Response:
        """The service's answer to one request; `ApiProblem` for anything but 2xx."""
        headers = {"Accept": accept}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        if self._forwarded_for:
            headers["X-Forwarded-For"] = self._forwarded_for
        try:
            response = await self._client.request(
                method, self._base + path, json=json, params=params, headers=headers
            )
        except httpx.HTTPError as exc:
            raise ApiProblem(
                503,
                "service_unavailable",
                f"{self.name} did not answer ({type(exc).__name__})",
                self.name,
            ) from None
        if response.status_code >= 400:
            raise _problem(response, self.name)
        return response

    async def get(self, path: str, **params: Any) -> Any:
        """GET a JSON document (None-valued parameters are left out)."""
        query = {key: value for key, value in params.items() if value is not None}
        return (await self.call("GET", path, params=query)).json()

    async def post(self, path: str, body: Any = None) -> Any:
        """POST a JSON body; the JSON answer (or None when there is no body)."""
        response = await self.call("POST", path, json=body)
        return response.json() if response.content else None

    async def events(self, path: str, params: dict[str, Any]) -> AsyncIterator[str]:
        """The lines of a server-sent event stream as they come; `ApiProblem` if the
        service refuses it or cannot be reached."""
        headers = {"Accept": "text/event-stream"}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        try:
            async with self._client.stream(
                "GET", self._base + path, params=params, headers=headers
            ) as response:
                if response.status_code >= 400:
                    await response.aread()
                    raise _problem(response, self.name)
                async for line in response.aiter_lines():
                    yield line
        except httpx.HTTPError as exc:
            raise ApiProblem(
                503,
                "service_unavailable",
                f"{self.name} did not answer ({type(exc).__name__})",
                self.name,
            ) from None


def _problem(response: httpx.Response, service: str) -> ApiProblem:
    try:
        body = response.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    code = body.get("code") or body.get("error") or f"http_{response.status_code}"
    detail = body.get("detail") or body.get("error_description") or body.get("title") or ""
    return ApiProblem(response.status_code, str(code), str(detail), service)
