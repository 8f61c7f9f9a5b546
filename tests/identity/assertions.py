"""Checks for identity-service tests: what the service stored (problem documents: tests.helpers)."""

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from sqlmodel import col, select

from services.identity.credentials.models import Credential, StatusList
from services.identity.keys.models import PartyKey
from services.identity.parties.models import Party
from services.identity.people.models import Person
from shared.audit.models import AuditEvent
from shared.db import transaction


async def snapshot(app: FastAPI) -> dict[str, Any]:
    """The stored parties, people, keys, credentials, status lists and audit events."""
    async with transaction(app.state.sessions) as session:
        parties = (await session.exec(select(Party).order_by(col(Party.id)))).all()
        people = (await session.exec(select(Person).order_by(col(Person.id)))).all()
        keys = (await session.exec(select(PartyKey).order_by(col(PartyKey.kid)))).all()
        credentials = (await session.exec(select(Credential).order_by(col(Credential.id)))).all()
        lists = (await session.exec(select(StatusList).order_by(col(StatusList.id)))).all()
        events = (await session.exec(select(AuditEvent.event).order_by(col(AuditEvent.id)))).all()
    return {
        "parties": [p.model_dump() for p in parties],
        "people": [p.model_dump() for p in people],
        "keys": [k.model_dump() for k in keys],
        "credentials": [c.model_dump() for c in credentials],
        "lists": [(s.id, s.next_index, s.statuses) for s in lists],
        "events": list(events),
    }


@asynccontextmanager
async def unchanged(app: FastAPI) -> AsyncIterator[None]:
    """The block leaves the stored state (see `snapshot`) as it found it."""
    before = await snapshot(app)
    yield
    assert await snapshot(app) == before


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
