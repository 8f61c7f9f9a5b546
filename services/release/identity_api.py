"""The identity service's API, called on behalf of a caller with his own bearer token.

Never cached: each call is the caller's, with his authority. The identity service's
refusals reach the caller with their own code and status; anything else that goes wrong
there is `identity_unavailable` (`services.release.identity_errors`).
"""

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import quote

import httpx

from services.release.identity_errors import problem_code, retry_after, unavailable
from shared.problems import Problem


@dataclass(frozen=True)
class PersonInfo:
    """What the release service needs of a person (the identity service's `PersonView`)."""

    person_id: uuid.UUID
    party_id: str
    role: str
    status: str
    screened_until: date | None


class IdentityApi:
    """The identity service's API, called on behalf of a caller with his own bearer token."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client

    async def sign(self, token: str, *, typ: str, claims: dict[str, Any]) -> str:
        """A JWS over `claims`, by the caller's party's custodial key (`POST /v1/sign`)."""
        body = await self._call("POST", "/v1/sign", token, {"typ": typ, "claims": claims})
        return _text(body, "jws")

    async def person(self, token: str, person_id: uuid.UUID) -> PersonInfo | None:
        """A person the caller may see; None for one he may not see, or who does not exist."""
        try:
            body = await self._call("GET", f"/v1/people/{person_id}", token)
        except Problem as exc:
            if (exc.status, exc.code) == (404, "person_not_found"):
                return None
            raise
        try:
            screened = body["screened_until"]
            return PersonInfo(
                person_id=uuid.UUID(body["id"]),
                party_id=_text(body, "party_id"),
                role=_text(body, "role"),
                status=_text(body, "status"),
                screened_until=None if screened is None else date.fromisoformat(screened),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise unavailable("person", "an answer of the wrong form") from exc

    async def party_exposure(self, token: str, party_id: str) -> dict[str, Any]:
        """The identity half of a party's exposure report (`GET /v1/parties/{id}/exposure`),
        as the identity service answers it; its refusals (404 `party_not_found`, 403
        `exposure_not_allowed`) are raised as they come."""
        return await self._call("GET", f"/v1/parties/{quote(party_id, safe='')}/exposure", token)

    async def kiosk_gate_pass(self, token: str, person_id: uuid.UUID, otp: str) -> str:
        """A gate pass for a driver who typed his TOTP code at a terminal's kiosk."""
        body = await self._call("POST", f"/v1/people/{person_id}/gate-pass", token, {"otp": otp})
        return _text(body, "gate_pass")

    async def _call(
        self, method: str, path: str, token: str, json: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """The JSON object of a 2xx answer; a 4xx problem is raised with its own code and
        status; anything else is `identity_unavailable`."""
        try:
            response = await self._client.request(
                method, path, json=json, headers={"Authorization": f"Bearer {token}"}
            )
        except (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError) as exc:
            raise unavailable(path, type(exc).__name__) from exc
        if response.is_success:
            try:
                body = response.json()
            except ValueError:
                body = None
            if not isinstance(body, dict):
                raise unavailable(path, "an answer that is not a JSON object")
            return body
        code = problem_code(response, response.status_code)
        if code is None or not 400 <= response.status_code < 500:
            raise unavailable(path, f"HTTP {response.status_code}")
        detail = response.json().get("detail")
        extensions: dict[str, Any] = {}
        if response.status_code == 429:
            delay = retry_after(response)
            if delay is not None:
                extensions["retry_after"] = delay
        raise Problem(
            code,
            detail if isinstance(detail, str) else "refused by the identity service",
            status=response.status_code,
            **extensions,
        )


def _text(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str):
        raise unavailable(name, f"an answer without {name}")
    return value
