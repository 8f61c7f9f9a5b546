"""Helpers of the integrity-screening tests: registering with a document, suspending with a
reason, and reading every stored row of the identity database."""

import base64
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import inspect, text

from shared.db import transaction

PASSWORD = "a long and secret passphrase"


def person_body(
    party_id: str,
    username: str,
    *,
    role: str = "driver",
    name: str = "Jan de Vries",
    document: tuple[str, str] | None = None,
) -> dict[str, Any]:
    """A registration body; `document` is (document number, date of birth)."""
    body: dict[str, Any] = {
        "party_id": party_id,
        "role": role,
        "name": name,
        "username": username,
        "password": PASSWORD,
        "screened_until": "2030-06-30",
    }
    if document is not None:
        body["document_number"], body["date_of_birth"] = document
    return body


async def register(
    client: httpx.AsyncClient, admin: dict[str, str], body: dict[str, Any]
) -> dict[str, Any]:
    """Register a person through the API; his view."""
    answer = await client.post("/v1/people", json=body, headers=admin)
    assert answer.status_code == 201, answer.text
    view: dict[str, Any] = answer.json()
    return view


async def suspend(
    client: httpx.AsyncClient, admin: dict[str, str], person_id: str, reason: str | None
) -> httpx.Response:
    """Suspend a person through the API, with a reason (None: no body)."""
    url = f"/v1/people/{person_id}/suspend"
    if reason is None:
        return await client.post(url, headers=admin)
    return await client.post(url, json={"reason": reason}, headers=admin)


async def every_stored_value(app: FastAPI) -> list[tuple[str, object]]:
    """(table, value) for every column of every row of every table of the database."""
    found: list[tuple[str, object]] = []
    async with transaction(app.state.sessions) as session:
        connection = await session.connection()
        tables = await connection.run_sync(lambda sync: inspect(sync).get_table_names())
        for table in tables:
            rows = await connection.execute(text(f'SELECT * FROM "{table}"'))
            found += [(table, value) for row in rows.all() for value in row]
    return found


def spellings(digest: bytes) -> list[str]:
    """How a hash could be written into a document: hex, base64, base64url."""
    return [
        digest.hex(),
        base64.b64encode(digest).decode(),
        base64.urlsafe_b64encode(digest).decode().rstrip("="),
    ]


def holds(value: object, needle: str) -> bool:
    """Whether a stored value holds `needle`, as text or as bytes (any case)."""
    if isinstance(value, bytes | bytearray | memoryview):
        raw = bytes(value)
        return needle.encode() in raw or needle.lower().encode() in raw.lower()
    return needle.lower() in str(value).lower()
