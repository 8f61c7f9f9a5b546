"""Integrity screening: identity documents kept as keyed hashes, suspensions with a reason,
matches found at registration and by the scheduled job, and the screening date at sign-in."""

import base64
import hashlib
import hmac
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import ValidationError
from sqlmodel import col, select

from services.identity.people import service as people
from services.identity.people.cli import cli
from services.identity.people.models import Person, PersonSuspension, SuspensionReason
from services.identity.screening import service as screening
from services.identity.screening.hashing import IdentityDocument, ScreeningKey, ScreeningKeys
from services.identity.screening.models import IntegrityMatch, ScreeningDocument
from services.identity.settings import DEMO_SCREENING_KEY, IdentitySettings
from shared.db import transaction
from shared.models import utcnow
from tests.helpers import assert_problem, invoke_cli
from tests.identity.assertions import audit_events, get_row, unchanged
from tests.identity.conftest import Clock
from tests.identity.factories import (
    PASSWORD as FACTORY_PASSWORD,
)
from tests.identity.factories import (
    admin_headers,
    make_party,
    make_person,
    totp_now,
)
from tests.identity.screening_factories import person_body, register, suspend

App = tuple[FastAPI, httpx.AsyncClient]
DOCUMENT = ("NX4B12C39", "1984-03-12")
REAL_KEY = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
OTHER_KEY = "HxwdHh8aGxwdHh8AAQIDBAUGBwgJCgsMDQ4PEBESEx4="


def _name() -> str:
    return f"p.{uuid.uuid4().hex[:10]}"


async def _documents(app: FastAPI, person_id: str) -> list[ScreeningDocument]:
    async with transaction(app.state.sessions) as session:
        rows = await session.exec(
            select(ScreeningDocument).where(
                col(ScreeningDocument.person_id) == uuid.UUID(person_id)
            )
        )
        return list(rows.all())


# --- the keyed hash ------------------------------------------------------------------


def test_the_hash_is_hmac_sha256_of_the_prefixed_canonical_document() -> None:
    secret = base64.b64decode(REAL_KEY)
    key = ScreeningKey.of(secret)
    document = IdentityDocument.of(" nx-4b12 c39 ", date(1984, 3, 12), today=date(2026, 12, 6))
    expected = hmac.new(
        secret, b"ketenpas-screening-v1\nNX4B12C39|1984-03-12", hashlib.sha256
    ).digest()
    assert key.digest(document) == expected
    # The id names the key without revealing it, and differs between keys.
    other = ScreeningKey.of(base64.b64decode(OTHER_KEY))
    assert len(key.key_id) == 12 and key.key_id != other.key_id
    assert other.digest(document) != expected


def test_a_document_is_never_printed() -> None:
    document = IdentityDocument.of("NX4B12C39", date(1984, 3, 12), today=date(2026, 12, 6))
    key = ScreeningKey.of(base64.b64decode(REAL_KEY))
    for text in (repr(document), str(document), repr(key)):
        assert "NX4B12C39" not in text and "1984" not in text
        assert REAL_KEY not in text


@pytest.mark.parametrize(
    ("number", "born", "code"),
    [
        ("AB12", date(1984, 3, 12), "invalid_document_number"),
        ("AB12 34/56", date(1984, 3, 12), "invalid_document_number"),
        ("ÅB1234567", date(1984, 3, 12), "invalid_document_number"),
        ("X" * 31, date(1984, 3, 12), "invalid_document_number"),
        ("AB1234567", date(1899, 12, 31), "invalid_date_of_birth"),
        ("AB1234567", date(2026, 12, 7), "invalid_date_of_birth"),
    ],
)
def test_a_bad_document_is_refused_without_repeating_it(number: str, born: date, code: str) -> None:
    with pytest.raises(Exception) as refused:
        IdentityDocument.of(number, born, today=date(2026, 12, 6))
    assert getattr(refused.value, "code", None) == code
    assert number not in str(refused.value)


def test_production_refuses_the_demo_screening_key_in_any_spelling() -> None:
    base: dict[str, Any] = {
        "environment": "production",
        "log_signing_key": REAL_KEY,
        "key_encryption_key": REAL_KEY,
        "cache_url": "redis://127.0.0.1:6379/0",
    }
    # The demo key's last character carries unused bits: another spelling, the same key.
    body = DEMO_SCREENING_KEY.rstrip("=")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    spelled = body[:-1] + alphabet[alphabet.index(body[-1]) | 0b11] + "="
    assert spelled != DEMO_SCREENING_KEY
    for values in (
        {},  # the default is the demo key
        {"screening_key": spelled},
        {"screening_key": REAL_KEY, "screening_retired_keys": DEMO_SCREENING_KEY},
    ):
        with pytest.raises(ValidationError, match="demo secret"):
            IdentitySettings(**{**base, **values})
    with pytest.raises(ValidationError, match="base64 of 32 bytes"):
        IdentitySettings(**{**base, "screening_key": "c2hvcnQ="})
    accepted = IdentitySettings(
        **{**base, "screening_key": REAL_KEY, "screening_retired_keys": f"{OTHER_KEY}, "}
    )
    keys = ScreeningKeys.from_settings(accepted)
    assert keys.current == ScreeningKey.of(base64.b64decode(REAL_KEY))
    assert [key.key_id for key in keys.keys][1:] == [
        ScreeningKey.of(base64.b64decode(OTHER_KEY)).key_id
    ]


# --- registration ----------------------------------------------------------------------


@pytest.mark.parametrize("role", ["driver", "dispatcher", "operator"])
async def test_a_screened_role_is_registered_only_with_its_document(
    identity_app: App, role: str
) -> None:
    app, client = identity_app
    _, admin = await admin_headers(app)
    carrier = await make_party(app, "carrier")
    body = person_body(carrier.id, _name(), role=role)
    async with unchanged(app):
        missing = await client.post("/v1/people", json=body, headers=admin)
        half = await client.post(
            "/v1/people", json={**body, "date_of_birth": "1984-03-12"}, headers=admin
        )
        bad = await client.post(
            "/v1/people",
            json={**body, "document_number": "12", "date_of_birth": "1984-03-12"},
            headers=admin,
        )
    assert_problem(missing, 422, "identity_document_required")
    assert_problem(half, 422, "identity_document_incomplete")
    assert_problem(bad, 422, "invalid_document_number")


@pytest.mark.parametrize("role", ["officer", "admin"])
async def test_other_roles_may_be_registered_without_a_document(
    identity_app: App, role: str
) -> None:
    app, client = identity_app
    _, admin = await admin_headers(app)
    customs = await make_party(app, "customs")
    view = await register(client, admin, person_body(customs.id, _name(), role=role))
    assert view["identity_document_recorded"] is False
    assert await _documents(app, view["id"]) == []
    assert await audit_events(app, "integrity.screened") == []


async def test_registration_keeps_only_keyed_hashes_and_says_only_that_one_was_recorded(
    identity_app: App,
) -> None:
    app, client = identity_app
    _, admin = await admin_headers(app)
    carrier = await make_party(app, "carrier")
    view = await register(
        client, admin, person_body(carrier.id, _name(), document=("nx-4b12 c39", DOCUMENT[1]))
    )

    assert view["identity_document_recorded"] is True
    assert "document_number" not in view and "date_of_birth" not in view
    [stored] = await _documents(app, view["id"])
    key = ScreeningKeys.from_settings(app.state.settings).current
    expected = key.digest(IdentityDocument.of(*DOCUMENT[:1], date(1984, 3, 12), today=date.today()))
    assert (stored.key_id, stored.digest) == (key.key_id, expected)
    [created] = await audit_events(app, "person.created")
    assert created["identity_document_recorded"] is True
    [screened] = await audit_events(app, "integrity.screened")
    assert screened["person_id"] == view["id"] and screened["party_id"] == carrier.id
    assert screened["trigger"] == "registration"
    for event in (created, screened):
        text = str(event)
        assert "4B12" not in text.upper() and "1984" not in text
        assert expected.hex() not in text and base64.b64encode(expected).decode() not in text


# --- suspension with a reason --------------------------------------------------------------


async def test_a_suspension_has_a_reason_that_is_kept_and_counted(identity_app: App) -> None:
    app, client = identity_app
    _, admin = await admin_headers(app)
    carrier = await make_party(app, "carrier")
    plain = await make_person(app, carrier)
    dishonest = await make_person(app, carrier)

    assert (await suspend(client, admin, str(plain.id), None)).status_code == 200
    assert (await suspend(client, admin, str(dishonest.id), "integrity")).status_code == 200
    assert_problem(
        await suspend(client, admin, str(plain.id), "other"), 409, "person_already_suspended"
    )
    unknown = await suspend(client, admin, str(plain.id), "because")
    assert_problem(unknown, 422, "invalid_request")

    events = await audit_events(app, "person.suspended")
    assert [(e["person_id"], e["reason"]) for e in events] == [
        (str(plain.id), "other"),
        (str(dishonest.id), "integrity"),
    ]
    assert (await get_row(app, Person, dishonest.id)).suspension_reason == "integrity"
    async with transaction(app.state.sessions) as session:
        integrity = (
            await session.exec(
                select(PersonSuspension).where(col(PersonSuspension.reason) == "integrity")
            )
        ).all()
    assert [(row.person_id, row.party_id) for row in integrity] == [(dishonest.id, carrier.id)]


async def test_a_person_suspended_pending_an_inquiry_is_then_suspended_for_integrity(
    identity_app: App,
) -> None:
    app, client = identity_app
    _, admin = await admin_headers(app)
    carrier = await make_party(app, "carrier")
    driver = await make_person(app, carrier)
    assert (await suspend(client, admin, str(driver.id), "investigation")).status_code == 200

    raised = await suspend(client, admin, str(driver.id), "integrity")

    assert raised.status_code == 200, raised.text
    again = await suspend(client, admin, str(driver.id), "integrity")
    assert_problem(again, 409, "person_already_suspended")
    events = await audit_events(app, "person.suspended")
    assert [e["reason"] for e in events] == ["investigation", "integrity"]
    assert events[1]["previous_reason"] == "investigation"
    async with transaction(app.state.sessions) as session:
        rows = (
            await session.exec(
                select(PersonSuspension).where(col(PersonSuspension.person_id) == driver.id)
            )
        ).all()
    assert [row.reason for row in rows] == ["integrity"]  # one suspension, its reason raised

    assert (await client.post(f"/v1/people/{driver.id}/reinstate", headers=admin)).is_success
    reinstated = await get_row(app, Person, driver.id)
    assert reinstated.suspension_reason is None
    async with transaction(app.state.sessions) as session:
        [row] = (
            await session.exec(
                select(PersonSuspension).where(col(PersonSuspension.person_id) == driver.id)
            )
        ).all()
    assert row.reinstated_at is not None


# --- matching ---------------------------------------------------------------------------


async def _suspended_for_integrity(
    client: httpx.AsyncClient, admin: dict[str, str], party_id: str, document: tuple[str, str]
) -> dict[str, Any]:
    view = await register(
        client, admin, person_body(party_id, _name(), name="Piet Bakker", document=document)
    )
    assert (await suspend(client, admin, view["id"], "integrity")).status_code == 200
    return view


async def test_a_registration_matching_a_person_suspended_for_integrity_is_reported(
    identity_app: App,
) -> None:
    app, client = identity_app
    _, admin = await admin_headers(app)
    first, second = await make_party(app, "carrier"), await make_party(app, "carrier")
    dismissed = await _suspended_for_integrity(client, admin, first.id, DOCUMENT)
    # Same party, another name, the document written otherwise.
    again_here = await register(
        client,
        admin,
        person_body(first.id, _name(), name="P. Bakker", document=("nx4b-12c39", DOCUMENT[1])),
    )
    elsewhere = await register(
        client, admin, person_body(second.id, _name(), name="Pieter B.", document=DOCUMENT)
    )

    matches = await audit_events(app, "integrity.match_found")
    assert [
        {k: e[k] for k in ("person_id", "party_id", "matched_person_ids", "matched_party_ids")}
        for e in matches
    ] == [
        {
            "person_id": again_here["id"],
            "party_id": first.id,
            "matched_person_ids": [dismissed["id"]],
            "matched_party_ids": [first.id],
        },
        {
            "person_id": elsewhere["id"],
            "party_id": second.id,
            "matched_person_ids": [dismissed["id"]],
            "matched_party_ids": [first.id],
        },
    ]
    assert {e["trigger"] for e in matches} == {"registration"}
    # The dismissed driver's own registration found nothing: one screening event each.
    screened = await audit_events(app, "integrity.screened")
    assert [e["person_id"] for e in screened] == [dismissed["id"]]


@pytest.mark.parametrize("reason", ["other", "investigation", None])
async def test_a_person_suspended_for_another_reason_or_active_is_no_match(
    identity_app: App, reason: str | None
) -> None:
    app, client = identity_app
    _, admin = await admin_headers(app)
    first, second = await make_party(app, "carrier"), await make_party(app, "carrier")
    earlier = await register(client, admin, person_body(first.id, _name(), document=DOCUMENT))
    if reason is not None:
        assert (await suspend(client, admin, earlier["id"], reason)).status_code == 200
    await register(client, admin, person_body(second.id, _name(), document=DOCUMENT))
    other_person = await register(
        client, admin, person_body(second.id, _name(), document=("NX4B12C39", "1984-03-13"))
    )

    assert await audit_events(app, "integrity.match_found") == []
    assert len(await audit_events(app, "integrity.screened")) == 3
    assert other_person["identity_document_recorded"] is True


async def test_the_scheduled_job_reports_what_registration_could_not_see_once(
    identity_app: App,
) -> None:
    app, client = identity_app
    _, admin = await admin_headers(app)
    first, second = await make_party(app, "carrier"), await make_party(app, "carrier")
    # Hired at the second carrier while still in good standing at the first (and a second
    # account there, suspended for something else, reinstated later)...
    hired = await register(client, admin, person_body(second.id, _name(), document=DOCUMENT))
    parked = await register(client, admin, person_body(second.id, _name(), document=DOCUMENT))
    assert (await suspend(client, admin, parked["id"], "other")).status_code == 200
    # ... then dismissed at the first for integrity.
    dismissed = await _suspended_for_integrity(client, admin, first.id, DOCUMENT)
    assert await audit_events(app, "integrity.match_found") == []

    async with transaction(app.state.sessions) as session:
        assert await screening.sweep(session=session, now=utcnow()) == 1
    async with transaction(app.state.sessions) as session:
        assert await screening.sweep(session=session, now=utcnow()) == 0
    assert (await client.post(f"/v1/people/{parked['id']}/reinstate", headers=admin)).is_success
    async with transaction(app.state.sessions) as session:
        assert await screening.sweep(session=session, now=utcnow()) == 1

    events = await audit_events(app, "integrity.match_found")
    assert [(e["person_id"], e["matched_person_ids"], e["trigger"]) for e in events] == [
        (hired["id"], [dismissed["id"]], "sweep"),
        (parked["id"], [dismissed["id"]], "sweep"),
    ]
    assert {e["actor"] for e in events} == {screening.JOB_ACTOR}
    async with transaction(app.state.sessions) as session:
        pairs = (await session.exec(select(IntegrityMatch))).all()
    assert {(str(p.person_id), str(p.matched_person_id)) for p in pairs} == {
        (hired["id"], dismissed["id"]),
        (parked["id"], dismissed["id"]),
    }


async def test_a_retired_key_kept_for_matching_still_finds_the_dismissed(
    identity_app: App,
) -> None:
    app, _ = identity_app
    first, second = await make_party(app, "carrier"), await make_party(app, "carrier")
    old = ScreeningKeys(keys=(ScreeningKey.of(base64.b64decode(REAL_KEY)),))
    new_only = ScreeningKeys(keys=(ScreeningKey.of(base64.b64decode(OTHER_KEY)),))
    rotated = ScreeningKeys(keys=(new_only.current, old.current))
    dismissed = await make_person(app, first)
    before, after = await make_person(app, second), await make_person(app, second)
    now = utcnow()
    document = IdentityDocument.of(*DOCUMENT[:1], date(1984, 3, 12), today=now.date())
    async with transaction(app.state.sessions) as session:
        for person, keys in ((dismissed, old), (before, new_only)):
            await people.record_identity_document(
                session,
                person_id=person.id,
                document_number=document.number,
                date_of_birth=document.date_of_birth,
                screening_keys=keys,
                actor="test",
                now=now,
            )
        await people.suspend_person(
            session,
            person_id=dismissed.id,
            actor="test",
            now=now,
            reason=SuspensionReason.integrity,
        )
    # Hashed under the new key only, `before` cannot be compared with the old hash: the
    # limitation docs/screening.md names.
    async with transaction(app.state.sessions) as session:
        assert await screening.sweep(session=session, now=now) == 0
        await people.record_identity_document(
            session,
            person_id=after.id,
            document_number=document.number,
            date_of_birth=document.date_of_birth,
            screening_keys=rotated,
            actor="test",
            now=now,
        )
    [match] = await audit_events(app, "integrity.match_found")
    assert match["person_id"] == str(after.id) and match["trigger"] == "document_recorded"
    assert {row.key_id for row in await _documents(app, str(after.id))} == {
        old.current.key_id,
        new_only.current.key_id,
    }


async def test_an_admin_records_a_document_for_a_person_registered_before(
    identity_app: App,
) -> None:
    app, client = identity_app
    _, admin = await admin_headers(app)
    first, second = await make_party(app, "carrier"), await make_party(app, "carrier")
    dismissed = await _suspended_for_integrity(client, admin, first.id, DOCUMENT)
    veteran = await make_person(app, second)  # registered before documents were asked
    url = f"/v1/people/{veteran.id}"
    async with unchanged(app):
        half = await client.patch(url, json={"document_number": DOCUMENT[0]}, headers=admin)
        bad = await client.patch(
            url, json={"document_number": "??", "date_of_birth": DOCUMENT[1]}, headers=admin
        )
        empty = await client.patch(url, json={}, headers=admin)
    assert_problem(half, 422, "identity_document_incomplete")
    assert_problem(bad, 422, "invalid_document_number")
    assert_problem(empty, 422, "nothing_to_change")

    answer = await client.patch(
        url,
        json={"document_number": DOCUMENT[0], "date_of_birth": DOCUMENT[1]},
        headers=admin,
    )

    assert answer.status_code == 200, answer.text
    assert answer.json()["identity_document_recorded"] is True
    [recorded] = await audit_events(app, "person.identity_document_recorded")
    assert recorded["person_id"] == str(veteran.id)
    [match] = await audit_events(app, "integrity.match_found")
    assert match["person_id"] == str(veteran.id)
    assert match["matched_person_ids"] == [dismissed["id"]]


# --- the command line ------------------------------------------------------------------------


async def test_the_cli_registers_with_a_document_suspends_for_integrity_and_sweeps(
    identity_app: App, cli_env: None, tmp_path: Path
) -> None:
    app, _ = identity_app
    carrier = await make_party(app, "carrier")
    password_file = tmp_path / "password"
    password_file.write_text(FACTORY_PASSWORD, encoding="utf-8")
    document_file = tmp_path / "document"
    document_file.write_text(DOCUMENT[0] + "\n", encoding="utf-8")
    args = ["create", "--party", carrier.id, "--role", "driver", "--name", "Jan"]
    args += ["--password-file", str(password_file)]

    from_file = ["--document-file", str(document_file)]

    refused = await invoke_cli(cli, [*args, "--username", "jan.none"])
    created = await invoke_cli(
        cli,
        [*args, "--username", "jan.doc", "--date-of-birth", DOCUMENT[1], *from_file],
    )
    prompted = await invoke_cli(
        cli,
        [*args, "--username", "jan.prompt", "--date-of-birth", DOCUMENT[1]],
        input=f"{DOCUMENT[0]}\n{DOCUMENT[0]}\n",
    )

    assert refused.exit_code == 1 and "identity_document_required" in refused.output
    assert created.exit_code == 0, created.output
    assert prompted.exit_code == 0, prompted.output
    assert DOCUMENT[0] not in prompted.output + created.output
    first, second = await audit_events(app, "person.created")
    suspended = await invoke_cli(cli, ["suspend", first["person_id"], "--reason", "integrity"])
    assert suspended.exit_code == 0, suspended.output
    assert (await get_row(app, Person, uuid.UUID(first["person_id"]))).suspension_reason == (
        "integrity"
    )
    swept = await invoke_cli(cli, ["screening-sweep"])
    assert swept.exit_code == 0 and "1 people reported" in swept.output
    [match] = await audit_events(app, "integrity.match_found")
    assert match["person_id"] == second["person_id"]
    assert match["matched_person_ids"] == [first["person_id"]]


# --- the screening date at sign-in -------------------------------------------------------


def _sign_in(person: Person, clock: Clock) -> dict[str, str]:
    return {"username": person.username, "password": FACTORY_PASSWORD, "otp": totp_now(clock.now)}


@pytest.mark.parametrize("role", ["driver", "dispatcher", "operator"])
async def test_a_screened_role_with_a_lapsed_or_missing_screening_cannot_sign_in(
    identity_app: App, clock: Clock, role: str
) -> None:
    app, client = identity_app
    carrier = await make_party(app, "carrier")
    today = datetime.fromtimestamp(clock.now, UTC).date()
    lapsed = await make_person(app, carrier, role, screened_until=today - timedelta(days=1))
    never = await make_person(app, carrier, role)
    async with transaction(app.state.sessions) as session:
        row = await session.get(Person, never.id)
        assert row is not None
        row.screened_until = None
        session.add(row)
    last_day = await make_person(app, carrier, role, screened_until=today)

    for person in (lapsed, never):
        answer = await client.post("/v1/sessions", json=_sign_in(person, clock))
        assert_problem(answer, 401, "screening_expired")
    assert (await client.post("/v1/sessions", json=_sign_in(last_day, clock))).status_code == 200

    refusals = await audit_events(app, "person.sign_in_refused")
    assert [(e["person_id"], e["reason"]) for e in refusals] == [
        (str(lapsed.id), "screening_expired"),
        (str(never.id), "screening_expired"),
    ]
    assert [e["person_id"] for e in await audit_events(app, "person.signed_in")] == [
        str(last_day.id)
    ]


async def test_an_officer_or_admin_signs_in_without_a_screening(
    identity_app: App, clock: Clock
) -> None:
    app, client = identity_app
    customs = await make_party(app, "customs")
    officer = await make_person(app, customs, "officer")
    async with transaction(app.state.sessions) as session:
        row = await session.get(Person, officer.id)
        assert row is not None
        row.screened_until = None
        session.add(row)
    answer = await client.post("/v1/sessions", json=_sign_in(officer, clock))
    assert answer.status_code == 200, answer.text


async def test_every_document_recorded_of_a_dismissed_person_is_screened(
    identity_app: App,
) -> None:
    app, client = identity_app
    _, admin = await admin_headers(app)
    first, second = await make_party(app, "carrier"), await make_party(app, "carrier")
    dismissed = await _suspended_for_integrity(client, admin, first.id, DOCUMENT)
    licence = ("5012345678", DOCUMENT[1])
    for _ in range(2):  # recorded twice: kept once
        answer = await client.patch(
            f"/v1/people/{dismissed['id']}",
            json={"document_number": licence[0], "date_of_birth": licence[1]},
            headers=admin,
        )
        assert answer.status_code == 200, answer.text
    assert len(await _documents(app, dismissed["id"])) == 2

    # Hired elsewhere on his driving licence: his passport was the one first recorded.
    hired = await register(client, admin, person_body(second.id, _name(), document=licence))

    [match] = await audit_events(app, "integrity.match_found")
    assert (match["person_id"], match["matched_person_ids"]) == (hired["id"], [dismissed["id"]])
