"""Threat: a driver dismissed for an integrity breach at one carrier (he let a container
go to the wrong truck) is simply hired by another carrier, or re-registered by the same one
under another name ("job-hopping"), and goes on collecting containers.

Caught: a driver is registered with his identity document, kept only as its HMAC under the
identity service's screening key; the registration is screened against everyone suspended
for integrity, at any party and under any name, and port security gets an
`integrity.match_found` event naming both people and both parties by id. Neither the
document number nor the date of birth is stored, audited or logged anywhere, and the hash
is in no audit event.
"""

from datetime import date
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from services.identity.screening.hashing import IdentityDocument, ScreeningKeys
from tests.identity.assertions import audit_events
from tests.identity.factories import admin_headers, make_party
from tests.identity.screening_factories import (
    every_stored_value,
    holds,
    person_body,
    register,
    spellings,
    suspend,
)

App = tuple[FastAPI, httpx.AsyncClient]
NUMBER, TYPED, BORN = "NX4B12C39", "nx-4b12 c39", "1984-03-12"
CLEAR = [NUMBER, TYPED, "NX-4B12", "4B12C39", BORN, "19840312", "12-03-1984", "12031984"]


async def test_a_driver_dismissed_for_integrity_is_found_when_hired_elsewhere(
    identity_app: App, capsys: pytest.CaptureFixture[str]
) -> None:
    app, client = identity_app
    _, admin = await admin_headers(app)
    first = await make_party(app, "carrier", name="Maasvlakte Haulage")
    second = await make_party(app, "carrier", name="Waalhaven Transport")

    dismissed = await register(
        client,
        admin,
        person_body(first.id, "piet.bakker", name="Piet Bakker", document=(TYPED, BORN)),
    )
    assert (await suspend(client, admin, dismissed["id"], "integrity")).status_code == 200
    rehired = await register(
        client,
        admin,
        person_body(second.id, "p.b.1984", name="Pieter Backer", document=(NUMBER, BORN)),
    )
    renamed = await register(
        client,
        admin,
        person_body(first.id, "kees.bakker", name="Kees Bakker", document=(NUMBER, BORN)),
    )

    matches = await audit_events(app, "integrity.match_found")
    assert [
        (e["person_id"], e["party_id"], e["matched_person_ids"], e["matched_party_ids"])
        for e in matches
    ] == [
        (rehired["id"], second.id, [dismissed["id"]], [first.id]),
        (renamed["id"], first.id, [dismissed["id"]], [first.id]),
    ]
    # Both were registered all the same: port security decides, the employer is not told.
    assert rehired["status"] == renamed["status"] == "active"

    # Nothing in the clear anywhere: every column of every table of the identity database
    # (the audit events' JSON included), and what the service logged.
    stored = await every_stored_value(app)
    # The scan sees what is stored (the names are, in the clear): it would see a document.
    assert any(holds(value, "Pieter Backer") for table, value in stored if table == "people")
    leaks = [
        (table, needle)
        for table, value in stored
        for needle in CLEAR
        if value is not None and holds(value, needle)
    ]
    assert leaks == []
    logged = capsys.readouterr()
    assert [n for n in CLEAR if n.lower() in (logged.out + logged.err).lower()] == []

    # The keyed hash is stored (that is how the match was found) but in no audit event.
    document = IdentityDocument.of(NUMBER, date(1984, 3, 12), today=date.today())
    digest = ScreeningKeys.from_settings(app.state.settings).current.digest(document)
    assert any(value == digest for table, value in stored if table == "screening_documents")
    in_events = [
        spelled
        for table, value in stored
        if table == "audit_events"
        for spelled in spellings(digest)
        if holds(value, spelled)
    ]
    assert in_events == []


async def test_the_api_never_shows_the_document_or_the_match(identity_app: App) -> None:
    app, client = identity_app
    _, admin = await admin_headers(app)
    first, second = await make_party(app, "carrier"), await make_party(app, "carrier")
    dismissed = await register(
        client, admin, person_body(first.id, "d.one", document=(NUMBER, BORN))
    )
    assert (await suspend(client, admin, dismissed["id"], "integrity")).status_code == 200
    rehired = await register(
        client, admin, person_body(second.id, "d.two", document=(NUMBER, BORN))
    )

    answers: list[Any] = [
        (await client.get(f"/v1/people/{rehired['id']}", headers=admin)).json(),
        (await client.get(f"/v1/people/{dismissed['id']}", headers=admin)).json(),
        rehired,
    ]
    text = str(answers).lower()
    for needle in [*CLEAR, "integrity", "match", "suspension_reason", "digest"]:
        assert needle.lower() not in text, needle
