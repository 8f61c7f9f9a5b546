"""Threat: an administrator (bribed, or curious for a criminal's sake) uses the screening as
an oracle: he registers a person with a known document number and date of birth to learn
whether that person is suspended for integrity somewhere in the port, or looks for an
endpoint that answers it.

Refused: the registration answers exactly the same whether the document matches a suspended
person or not (status, headers, body apart from the new person's own id, name and times),
appends the same number of audit events (so not even the public log's size tells: the
event's type is hidden in its salted commitment), and no route but registration and the
administrator's record of a document takes a document number at all, nor answers with
anything of the screening.
"""

from typing import Any

import httpx
from fastapi import FastAPI
from sqlmodel import func, select

from shared.audit.models import AuditEvent
from shared.db import transaction
from tests.identity.assertions import audit_events
from tests.identity.factories import admin_headers, make_party
from tests.identity.screening_factories import person_body, register, suspend

App = tuple[FastAPI, httpx.AsyncClient]
KNOWN = ("NX4B12C39", "1984-03-12")
UNKNOWN = ("PQ7Z88K01", "1990-07-01")
# What differs between any two registrations, matched or not.
OWN = {"id", "username", "created_at", "updated_at"}


async def _events(app: FastAPI) -> int:
    async with transaction(app.state.sessions) as session:
        return int((await session.exec(select(func.count()).select_from(AuditEvent))).one())


async def _probe(
    app: FastAPI,
    client: httpx.AsyncClient,
    admin: dict[str, str],
    party_id: str,
    username: str,
    document: tuple[str, str],
) -> tuple[httpx.Response, int]:
    before = await _events(app)
    answer = await client.post(
        "/v1/people", json=person_body(party_id, username, document=document), headers=admin
    )
    return answer, await _events(app) - before


def _shape(answer: httpx.Response) -> tuple[int, list[str], dict[str, Any]]:
    body = answer.json()
    headers = sorted(name for name in answer.headers if name not in {"location"})
    return answer.status_code, headers, {k: v for k, v in body.items() if k not in OWN}


async def test_a_registration_answers_the_same_whether_the_document_matches(
    identity_app: App,
) -> None:
    app, client = identity_app
    _, port_admin = await admin_headers(app)
    first = await make_party(app, "carrier")
    dismissed = await register(
        client, port_admin, person_body(first.id, "x.dismissed", document=KNOWN)
    )
    assert (await suspend(client, port_admin, dismissed["id"], "integrity")).status_code == 200
    # The prober: an administrator registering at another carrier.
    _, prober = await admin_headers(app)
    second = await make_party(app, "carrier")

    matched, matched_events = await _probe(app, client, prober, second.id, "probe.aaaa", KNOWN)
    plain, plain_events = await _probe(app, client, prober, second.id, "probe.bbbb", UNKNOWN)

    assert matched.status_code == plain.status_code == 201
    assert _shape(matched) == _shape(plain)
    assert matched_events == plain_events
    # ... while port security was told about the one and not the other.
    [found] = await audit_events(app, "integrity.match_found")
    assert found["person_id"] == matched.json()["id"]
    # Reading the people back tells no more.
    read = [
        await client.get(f"/v1/people/{answer.json()['id']}", headers=prober)
        for answer in (matched, plain)
    ]
    assert _shape(read[0]) == _shape(read[1])


async def test_no_route_takes_a_document_but_registration_and_its_record(
    identity_app: App,
) -> None:
    app, _ = identity_app
    document = app.openapi()
    schemas = document["components"]["schemas"]

    def properties(schema: dict[str, Any]) -> set[str]:
        if "$ref" in schema:
            schema = schemas[schema["$ref"].rsplit("/", 1)[1]]
        found = set(schema.get("properties", {}))
        for part in schema.get("anyOf", []) + schema.get("allOf", []):
            found |= properties(part)
        return found

    taking: set[tuple[str, str]] = set()
    answering: set[tuple[str, str]] = set()
    for path, item in document["paths"].items():
        for method, operation in item.items():
            names = {p["name"] for p in operation.get("parameters", [])}
            for media in operation.get("requestBody", {}).get("content", {}).values():
                names |= properties(media.get("schema", {}))
            if names & {"document_number", "date_of_birth"}:
                taking.add((method, path))
            for answer in operation.get("responses", {}).values():
                for media in answer.get("content", {}).values():
                    shown = properties(media.get("schema", {}))
                    if shown & {"document_number", "date_of_birth", "digest", "matched_person_ids"}:
                        answering.add((method, path))

    assert taking == {("post", "/v1/people"), ("patch", "/v1/people/{person_id}")}
    assert answering == set()
