"""Helpers for the party, people and key administration tests: callers, snapshots, problems."""

import json
from typing import Any

import httpx
from fastapi import FastAPI
from sqlmodel import col, select

from services.identity.keys.models import PartyKey
from services.identity.parties.models import Party
from services.identity.people.models import Person
from shared.audit.models import AuditEvent
from shared.db import transaction
from tests.identity.factories import bearer, client_token, make_party, make_person, person_token


async def admin_headers(app: FastAPI) -> tuple[Party, dict[str, str]]:
    """An admin party and the Authorization header of its API client."""
    party = await make_party(app, "admin", name="Port administration")
    return party, bearer(await client_token(app, party))


async def party_client(app: FastAPI, *roles: str) -> tuple[Party, dict[str, str]]:
    """A party with these roles (carrier by default) and its API client's header."""
    party = await make_party(app, *(roles or ("carrier",)))
    return party, bearer(await client_token(app, party))


async def person_headers(app: FastAPI, party: Party, role: str = "dispatcher") -> dict[str, str]:
    """The Authorization header of a new, signed-in person of the party."""
    person = await make_person(app, party, role)
    return bearer(await person_token(app, person, party))


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The response is an RFC 9457 problem document with this status and code."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["code"] == code, body
    return body


async def snapshot(app: FastAPI) -> dict[str, Any]:
    """Everything this area can change: parties, people, keys and the audit events."""
    async with transaction(app.state.sessions) as session:
        parties = (await session.exec(select(Party).order_by(col(Party.id)))).all()
        people = (await session.exec(select(Person).order_by(col(Person.id)))).all()
        keys = (await session.exec(select(PartyKey).order_by(col(PartyKey.kid)))).all()
        events = (await session.exec(select(AuditEvent.event_id))).all()
        return {
            "parties": [p.model_dump() for p in parties],
            "people": [p.model_dump() for p in people],
            "keys": [k.model_dump() for k in keys],
            "events": sorted(str(e) for e in events),
        }


async def audit_events(app: FastAPI, event_type: str | None = None) -> list[dict[str, Any]]:
    """The stored audit events (their JSON), oldest first, optionally of one type."""
    async with transaction(app.state.sessions) as session:
        query = select(AuditEvent).order_by(col(AuditEvent.id))
        if event_type is not None:
            query = query.where(AuditEvent.event_type == event_type)
        return [json.loads(row.event) for row in (await session.exec(query)).all()]


async def get_row(app: FastAPI, model: Any, key: Any) -> Any:
    """A fresh copy of one row."""
    async with transaction(app.state.sessions) as session:
        return await session.get(model, key)
