"""People: registration, visibility, suspension, screening, and their CLI."""

import uuid
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher

from services.identity.cli_support import cli_actor
from services.identity.people.cli import cli
from services.identity.people.models import Person, PersonStatus
from services.identity.people.passwords import MIN_PASSWORD_LENGTH, verify_password
from tests.helpers import assert_problem, invoke_cli
from tests.identity.assertions import audit_events, get_row, unchanged
from tests.identity.factories import (
    admin_headers,
    bearer,
    make_party,
    make_person,
    new_eori,
    party_client,
    person_headers,
    person_token,
)

PASSWORD = "a long and secret passphrase"
SECRET_FIELDS = {
    "password",
    "password_hash",
    "totp_secret",
    "totp_secret_sealed",
    "totp_last_step",
    "document_number",
    "date_of_birth",
}


def _person_body(party_id: str, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "party_id": party_id,
        "role": "driver",
        "name": "Jan de Vries",
        "username": f"jan.{uuid.uuid4().hex[:8]}",
        "password": PASSWORD,
        "screened_until": "2030-06-30",
        # A driver is registered with his identity document (docs/screening.md).
        "document_number": "NX4B12C39",
        "date_of_birth": "1984-03-12",
    }
    body.update(overrides)
    return body


async def test_an_admin_registers_a_person_whose_password_is_hashed_and_never_shown(
    identity_app: Any,
) -> None:
    app, client = identity_app
    admin, headers = await admin_headers(app)
    carrier = await make_party(app, "carrier")
    body = _person_body(carrier.id)

    response = await client.post("/v1/people", json=body, headers=headers)

    assert response.status_code == 201, response.text
    view = response.json()
    assert not SECRET_FIELDS & view.keys()
    assert PASSWORD not in response.text
    assert view["party_id"] == carrier.id and view["role"] == "driver"
    assert view["screened_until"] == "2030-06-30"
    assert view["status"] == "active" and view["totp_enrolled"] is False
    assert response.headers["location"] == f"/v1/people/{view['id']}"
    stored = await get_row(app, Person, uuid.UUID(view["id"]))
    assert stored.password_hash.startswith("$argon2id$")
    assert await verify_password(stored.password_hash, PASSWORD)
    [event] = await audit_events(app, "person.created")
    assert event["person_id"] == view["id"] and event["actor"] == f"client:{admin.id}"
    assert PASSWORD not in str(event) and stored.password_hash not in str(event)


async def test_the_hash_uses_argon2id_parameters_that_need_no_rehash(identity_app: Any) -> None:
    app, client = identity_app
    _, headers = await admin_headers(app)
    carrier = await make_party(app, "carrier")
    response = await client.post("/v1/people", json=_person_body(carrier.id), headers=headers)
    stored = await get_row(app, Person, uuid.UUID(response.json()["id"]))
    assert not PasswordHasher().check_needs_rehash(stored.password_hash)


async def test_a_username_is_taken_once(identity_app: Any) -> None:
    app, client = identity_app
    _, headers = await admin_headers(app)
    carrier = await make_party(app, "carrier")
    other = await make_party(app, "forwarder")
    body = _person_body(carrier.id)
    assert (await client.post("/v1/people", json=body, headers=headers)).status_code == 201

    async with unchanged(app):
        again = await client.post(
            "/v1/people", json={**body, "party_id": other.id}, headers=headers
        )

        assert_problem(again, 409, "username_taken")


async def test_a_person_of_an_unknown_party_is_invalid_input(identity_app: Any) -> None:
    app, client = identity_app
    _, headers = await admin_headers(app)
    async with unchanged(app):
        response = await client.post("/v1/people", json=_person_body(new_eori()), headers=headers)
        assert_problem(response, 422, "unknown_party")


@pytest.mark.parametrize("status", ["suspended", "revoked"])
async def test_no_person_is_registered_for_a_party_that_is_not_active(
    identity_app: Any, status: str
) -> None:
    app, client = identity_app
    _, headers = await admin_headers(app)
    party = await make_party(app, "carrier", status=status)
    async with unchanged(app):
        response = await client.post("/v1/people", json=_person_body(party.id), headers=headers)
        assert_problem(response, 409, "party_not_active")


@pytest.mark.parametrize(
    "overrides",
    [
        {"password": "x" * (MIN_PASSWORD_LENGTH - 1)},
        {"password": "x" * 257},
        {"password": 123456789012345},
        {"username": "Jan.DeVries"},
        {"username": "ab"},
        {"username": "jan devries"},
        {"username": ".jan"},
        {"username": "x" * 101},
        {"username": "jan\n"},
        {"role": "captain"},
        {"role": 1},
        {"name": ""},
        {"name": "Jan\u0007"},
        {"screened_until": "30-06-2030"},
        {"screened_until": "2030-06-30T00:00:00"},
        {"screened_until": 1_900_000_000},
        {"screened_until": 0},
        {"screened_until": "2030-02-30"},
        {"party_id": ["EU.EORI.NL123456789"]},
        {"status": "active"},
        {"password_hash": "$argon2id$..."},
        {"totp_secret": "JBSWY3DPEHPK3PXP"},
    ],
)
async def test_bad_person_bodies_are_refused_without_state_change(
    identity_app: Any, overrides: dict[str, Any]
) -> None:
    app, client = identity_app
    _, headers = await admin_headers(app)
    carrier = await make_party(app, "carrier")
    async with unchanged(app):
        response = await client.post(
            "/v1/people", json=_person_body(carrier.id) | overrides, headers=headers
        )
        assert_problem(response, 422, "invalid_request")
        assert PASSWORD not in response.text  # problem documents do not echo the input


@pytest.mark.parametrize("missing", ["party_id", "role", "name", "username", "password"])
async def test_every_required_field_is_required(identity_app: Any, missing: str) -> None:
    app, client = identity_app
    _, headers = await admin_headers(app)
    carrier = await make_party(app, "carrier")
    body = _person_body(carrier.id)
    del body[missing]
    response = await client.post("/v1/people", json=body, headers=headers)
    assert_problem(response, 422, "invalid_request")


async def test_an_unencodable_password_is_refused(identity_app: Any) -> None:
    app, client = identity_app
    _, headers = await admin_headers(app)
    carrier = await make_party(app, "carrier")
    content = (
        '{"party_id": "' + carrier.id + '", "role": "driver", "name": "Jan",'
        ' "username": "jan.surrogate", "password": "\\ud800 long enough to pass"}'
    ).encode()
    async with unchanged(app):
        response = await client.post(
            "/v1/people", content=content, headers={**headers, "content-type": "application/json"}
        )
        assert_problem(response, 422, "invalid_request")


async def test_a_person_without_screening_date_is_registered(identity_app: Any) -> None:
    app, client = identity_app
    _, headers = await admin_headers(app)
    carrier = await make_party(app, "carrier")
    body = _person_body(carrier.id)
    del body["screened_until"]
    response = await client.post("/v1/people", json=body, headers=headers)
    assert response.status_code == 201
    assert response.json()["screened_until"] is None


async def test_only_an_admin_registers_people(identity_app: Any) -> None:
    app, client = identity_app
    carrier, carrier_headers = await party_client(app, "carrier")
    dispatcher = await person_headers(app, carrier)
    async with unchanged(app):
        as_client = await client.post(
            "/v1/people", json=_person_body(carrier.id), headers=carrier_headers
        )
        as_person = await client.post(
            "/v1/people", json=_person_body(carrier.id), headers=dispatcher
        )
        anonymous = await client.post("/v1/people", json=_person_body(carrier.id))
        assert_problem(as_client, 403, "admin_required")
        assert_problem(as_person, 403, "admin_required")
        assert_problem(anonymous, 401, "token_missing")


# --- reading -------------------------------------------------------------------------------------


async def test_the_party_of_a_person_sees_him_and_others_get_the_same_404(
    identity_app: Any,
) -> None:
    app, client = identity_app
    carrier, carrier_headers = await party_client(app, "carrier")
    _, other_headers = await party_client(app, "carrier")
    _, admin = await admin_headers(app)
    driver = await make_person(app, carrier, "driver")
    colleague = await person_headers(app, carrier, "dispatcher")

    seen = [
        await client.get(f"/v1/people/{driver.id}", headers=h)
        for h in (admin, carrier_headers, colleague)
    ]
    by_other = await client.get(f"/v1/people/{driver.id}", headers=other_headers)
    unknown = await client.get(f"/v1/people/{uuid.uuid4()}", headers=other_headers)
    malformed = await client.get("/v1/people/not-a-uuid", headers=admin)

    for response in seen:
        assert response.status_code == 200
        assert response.json()["id"] == str(driver.id)
        assert response.json()["totp_enrolled"] is True
        assert not SECRET_FIELDS & response.json().keys()
        assert "argon2" not in response.text
    assert_problem(by_other, 404, "person_not_found")
    assert_problem(unknown, 404, "person_not_found")
    assert by_other.json() == unknown.json()
    assert_problem(malformed, 422, "invalid_request")


# --- suspension --------------------------------------------------------------------------------


async def test_a_suspended_person_is_refused_until_reinstated(identity_app: Any) -> None:
    app, client = identity_app
    admin, headers = await admin_headers(app)
    carrier = await make_party(app, "carrier")
    driver = await make_person(app, carrier, "driver")
    own = bearer(await person_token(app, driver, carrier))

    suspended = await client.post(f"/v1/people/{driver.id}/suspend", headers=headers)
    refused = await client.get(f"/v1/people/{driver.id}", headers=own)
    reinstated = await client.post(f"/v1/people/{driver.id}/reinstate", headers=headers)
    allowed = await client.get(f"/v1/people/{driver.id}", headers=own)

    assert suspended.status_code == 200 and suspended.json()["status"] == "suspended"
    assert_problem(refused, 401, "person_not_active")
    assert reinstated.json()["status"] == "active"
    assert allowed.status_code == 200
    events = [e for e in await audit_events(app) if e["type"] != "person.created"]
    events = [e for e in events if e["type"].startswith("person.")]
    assert [(e["type"], e["person_id"], e["actor"]) for e in events] == [
        ("person.suspended", str(driver.id), f"client:{admin.id}"),
        ("person.reinstated", str(driver.id), f"client:{admin.id}"),
    ]


async def test_suspension_changes_that_do_not_apply_are_conflicts(identity_app: Any) -> None:
    app, client = identity_app
    _, headers = await admin_headers(app)
    carrier = await make_party(app, "carrier")
    active = await make_person(app, carrier)
    suspended = await make_person(app, carrier, status="suspended")

    async with unchanged(app):
        twice = await client.post(f"/v1/people/{suspended.id}/suspend", headers=headers)
        not_suspended = await client.post(f"/v1/people/{active.id}/reinstate", headers=headers)
        unknown = await client.post(f"/v1/people/{uuid.uuid4()}/suspend", headers=headers)

        assert_problem(twice, 409, "person_already_suspended")
        assert_problem(not_suspended, 409, "person_not_suspended")
        assert_problem(unknown, 404, "person_not_found")


async def test_only_an_admin_suspends_people(identity_app: Any) -> None:
    app, client = identity_app
    carrier, carrier_headers = await party_client(app, "carrier")
    driver = await make_person(app, carrier)
    async with unchanged(app):
        response = await client.post(f"/v1/people/{driver.id}/suspend", headers=carrier_headers)
        assert_problem(response, 403, "admin_required")


# --- screening -----------------------------------------------------------------------------------


async def test_an_admin_sets_and_clears_the_screening_date(identity_app: Any) -> None:
    app, client = identity_app
    _, headers = await admin_headers(app)
    carrier = await make_party(app, "carrier")
    driver = await make_person(app, carrier, screened_until=date(2027, 1, 31))

    extended = await client.patch(
        f"/v1/people/{driver.id}", json={"screened_until": "2029-01-31"}, headers=headers
    )
    cleared = await client.patch(
        f"/v1/people/{driver.id}", json={"screened_until": None}, headers=headers
    )

    assert extended.status_code == 200 and extended.json()["screened_until"] == "2029-01-31"
    assert cleared.status_code == 200 and cleared.json()["screened_until"] is None
    assert (await get_row(app, Person, driver.id)).screened_until is None
    changes = await audit_events(app, "person.screening_changed")
    assert [(e["from"], e["to"]) for e in changes] == [
        ("2027-01-31", "2029-01-31"),
        ("2029-01-31", None),
    ]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({}, "nothing_to_change"),
        ({"screened_until": "tomorrow"}, "invalid_request"),
        ({"screened_until": 20290131}, "invalid_request"),
        ({"status": "suspended"}, "invalid_request"),
        ({"screened_until": "2029-01-31", "role": "admin"}, "invalid_request"),
    ],
)
async def test_bad_person_changes_are_refused(
    identity_app: Any, body: dict[str, Any], code: str
) -> None:
    app, client = identity_app
    _, headers = await admin_headers(app)
    carrier = await make_party(app, "carrier")
    driver = await make_person(app, carrier)
    async with unchanged(app):
        response = await client.patch(f"/v1/people/{driver.id}", json=body, headers=headers)
        assert_problem(response, 422, code)


async def test_only_an_admin_changes_the_screening_of_a_known_person(identity_app: Any) -> None:
    app, client = identity_app
    carrier, carrier_headers = await party_client(app, "carrier")
    _, admin = await admin_headers(app)
    driver = await make_person(app, carrier)
    body = {"screened_until": (date.today() + timedelta(days=3650)).isoformat()}

    async with unchanged(app):
        own_party = await client.patch(
            f"/v1/people/{driver.id}", json=body, headers=carrier_headers
        )
        unknown = await client.patch(f"/v1/people/{uuid.uuid4()}", json=body, headers=admin)

        assert_problem(own_party, 403, "admin_required")
        assert_problem(unknown, 404, "person_not_found")


# --- CLI -----------------------------------------------------------------------------------------


def _create_args(party_id: str, username: str) -> list[str]:
    return [
        "create",
        "--party",
        party_id,
        "--role",
        # A role registered without an identity document (the CLI's document options are
        # tested in test_integrity_screening.py).
        "officer",
        "--name",
        "Fatima el Amrani",
        "--username",
        username,
    ]


async def test_the_cli_registers_a_person_with_a_prompted_password_it_never_echoes(
    identity_app: Any, cli_env: None
) -> None:
    app, _ = identity_app
    carrier = await make_party(app, "carrier")

    result = await invoke_cli(
        cli,
        [*_create_args(carrier.id, "f.elamrani"), "--screened-until", "2031-12-31"],
        input=f"{PASSWORD}\n{PASSWORD}\n",
    )

    assert result.exit_code == 0, result.output
    assert PASSWORD not in result.output
    [event] = await audit_events(app, "person.created")
    assert event["actor"] == cli_actor() and event["username"] == "f.elamrani"
    stored = await get_row(app, Person, uuid.UUID(event["person_id"]))
    assert await verify_password(stored.password_hash, PASSWORD)
    assert stored.screened_until == date(2031, 12, 31)


async def test_the_cli_reads_the_password_from_a_file(
    identity_app: Any, cli_env: None, tmp_path: Path
) -> None:
    app, _ = identity_app
    carrier = await make_party(app, "carrier")
    password_file = tmp_path / "password"
    password_file.write_text(PASSWORD + "\n", encoding="utf-8")

    result = await invoke_cli(
        cli, [*_create_args(carrier.id, "f.file"), "--password-file", str(password_file)]
    )

    assert result.exit_code == 0, result.output
    assert PASSWORD not in result.output
    [event] = await audit_events(app, "person.created")
    stored = await get_row(app, Person, uuid.UUID(event["person_id"]))
    assert await verify_password(stored.password_hash, PASSWORD)


async def test_the_cli_refuses_a_short_password_or_a_taken_username(
    identity_app: Any, cli_env: None, tmp_path: Path
) -> None:
    app, _ = identity_app
    carrier = await make_party(app, "carrier")
    taken = await make_person(app, carrier, username="taken.name")
    short = tmp_path / "short"
    short.write_text("short\n", encoding="utf-8")
    good = tmp_path / "good"
    good.write_text(PASSWORD, encoding="utf-8")

    async with unchanged(app):
        too_short = await invoke_cli(
            cli, [*_create_args(carrier.id, "new.name"), "--password-file", str(short)]
        )
        duplicate = await invoke_cli(
            cli, [*_create_args(carrier.id, taken.username), "--password-file", str(good)]
        )
        missing = await invoke_cli(
            cli,
            [*_create_args(carrier.id, "other.name"), "--password-file", str(tmp_path / "absent")],
        )

        assert too_short.exit_code == 1 and "password_length" in too_short.output
        assert duplicate.exit_code == 1 and "username_taken" in duplicate.output
        assert missing.exit_code == 2


async def test_the_cli_suspends_and_reinstates_a_person(identity_app: Any, cli_env: None) -> None:
    app, _ = identity_app
    carrier = await make_party(app, "carrier")
    driver = await make_person(app, carrier)

    suspended = await invoke_cli(cli, ["suspend", str(driver.id)])
    assert suspended.exit_code == 0, suspended.output
    assert (await get_row(app, Person, driver.id)).status == PersonStatus.suspended
    twice = await invoke_cli(cli, ["suspend", str(driver.id)])
    assert twice.exit_code == 1 and "person_already_suspended" in twice.output
    reinstated = await invoke_cli(cli, ["reinstate", str(driver.id)])
    assert reinstated.exit_code == 0, reinstated.output
    assert (await get_row(app, Person, driver.id)).status == PersonStatus.active
    events = [e for e in await audit_events(app) if e["type"].startswith("person.")]
    assert [e["type"] for e in events] == ["person.suspended", "person.reinstated"]
    assert {e["actor"] for e in events} == {cli_actor()}
