"""TOTP: RFC 6238 vectors through our code, enrolment, confirmation, reset, and the CLI."""

import base64
import logging
import urllib.parse
import uuid
from pathlib import Path

import httpx
import pyotp
import pytest
import structlog
from fastapi import FastAPI
from hypothesis import given
from hypothesis import strategies as st
from sqlmodel import select

from services.identity.people.models import Person
from services.identity.sealing import unseal
from services.identity.sessions import totp
from services.identity.sessions.cli import cli
from services.identity.sessions.service import totp_binding
from shared.audit.models import AuditEvent
from shared.db import transaction
from shared.logging import configure_logging
from tests.helpers import invoke_cli
from tests.identity.assertions import audit_events
from tests.identity.conftest import Clock
from tests.identity.factories import (
    PASSWORD,
    TOTP_SECRET,
    bearer,
    client_token,
    make_party,
    make_person,
    person_token,
    wrong_code,
)

App = tuple[FastAPI, httpx.AsyncClient]


# --- RFC 6238 Appendix B ---------------------------------------------------------------------

RFC6238_SHA1_SECRET = base64.b32encode(b"12345678901234567890").decode()
# (Unix time, T as printed in the RFC, TOTP for SHA-1 with 8 digits)
RFC6238_SHA1_VECTORS = [
    (59, 0x0000000000000001, "94287082"),
    (1111111109, 0x00000000023523EC, "07081804"),
    (1111111111, 0x00000000023523ED, "14050471"),
    (1234567890, 0x000000000273EF07, "89005924"),
    (2000000000, 0x0000000003F940AA, "69279037"),
    (20000000000, 0x0000000027BC86AA, "65353130"),
]


@pytest.mark.parametrize(("at", "step", "code"), RFC6238_SHA1_VECTORS)
def test_rfc6238_appendix_b_sha1_vectors(at: int, step: int, code: str) -> None:
    assert totp.time_step(at) == step
    assert totp.code_at(RFC6238_SHA1_SECRET, step, digits=8) == code
    assert totp.matching_steps(RFC6238_SHA1_SECRET, code, now=at, digits=8, window=0) == [step]


def test_codes_of_the_neighbouring_steps_match_and_no_further() -> None:
    now = 1_700_000_000.0
    step = totp.time_step(now)
    for offset in (-1, 0, 1):
        code = totp.code_at(TOTP_SECRET, step + offset)
        assert step + offset in totp.matching_steps(TOTP_SECRET, code, now=now)
    for offset in (-3, -2, 2, 3):
        code = totp.code_at(TOTP_SECRET, step + offset)
        assert step + offset not in totp.matching_steps(TOTP_SECRET, code, now=now)


def test_our_codes_are_the_codes_of_any_authenticator() -> None:
    now = 1_700_000_123
    assert totp.code_at(TOTP_SECRET, totp.time_step(now)) == pyotp.TOTP(TOTP_SECRET).at(now)


@given(st.text(max_size=12))
def test_any_typed_text_matches_only_if_it_is_a_valid_code(text: str) -> None:
    now = 1_700_000_000.0
    valid = {totp.code_at(TOTP_SECRET, totp.time_step(now) + offset) for offset in (-1, 0, 1)}
    matched = totp.matching_steps(TOTP_SECRET, text, now=now)
    assert bool(matched) == (text in valid)


def test_new_secrets_are_160_random_bits() -> None:
    secrets = {totp.new_secret() for _ in range(20)}
    assert len(secrets) == 20
    assert all(len(base64.b32decode(secret)) == 20 for secret in secrets)


def test_provisioning_uri_names_ketenpas_and_the_user() -> None:
    uri = totp.provisioning_uri(TOTP_SECRET, "j.de.vries@example.nl")
    parsed = urllib.parse.urlsplit(uri)
    assert (parsed.scheme, parsed.netloc) == ("otpauth", "totp")
    assert urllib.parse.unquote(parsed.path) == "/Ketenpas:j.de.vries@example.nl"
    query = urllib.parse.parse_qs(parsed.query)
    assert query == {"secret": [TOTP_SECRET], "issuer": ["Ketenpas"]}
    # SHA-1, 6 digits, 30 s: the defaults, so every authenticator reads the same
    authenticator = pyotp.parse_uri(uri)
    assert isinstance(authenticator, pyotp.TOTP)
    assert authenticator.at(1_700_000_000) == pyotp.TOTP(TOTP_SECRET).at(1_700_000_000)


def test_qr_code_is_an_svg_document() -> None:
    svg = totp.qr_svg(totp.provisioning_uri(TOTP_SECRET, "driver"))
    assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>")
    assert "<path" in svg


# --- enrolment over the API --------------------------------------------------------------------


def secret_of(uri: str) -> str:
    return urllib.parse.parse_qs(urllib.parse.urlsplit(uri).query)["secret"][0]


async def admin_headers(app: FastAPI) -> dict[str, str]:
    return bearer(await client_token(app, await make_party(app, "admin")))


async def stored(app: FastAPI, person_id: uuid.UUID) -> Person:
    async with transaction(app.state.sessions) as session:
        person = await session.get(Person, person_id)
    assert person is not None
    return person


async def test_admin_enrols_a_pending_secret_sealed_for_the_person(identity_app: App) -> None:
    app, client = identity_app
    person = await make_person(app, await make_party(app, "carrier"), totp=False)
    answer = await client.post(f"/v1/people/{person.id}/totp", headers=await admin_headers(app))
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"
    body = answer.json()
    assert body["provisioning_uri"].startswith(f"otpauth://totp/Ketenpas:{person.username}?")
    assert body["qr_svg"].startswith("<svg")
    secret = secret_of(body["provisioning_uri"])
    row = await stored(app, person.id)
    assert row.totp_confirmed_at is None
    assert row.totp_secret_sealed is not None and secret.encode() not in row.totp_secret_sealed
    kek = app.state.settings.kek_bytes()
    opened = unseal(kek, row.totp_secret_sealed, bound_to=totp_binding(person.id))
    assert opened.decode() == secret
    [event] = await audit_events(app, "person.totp_enrolled")
    assert event["person_id"] == str(person.id)
    assert str(event["actor"]).startswith("client:")


async def test_a_pending_secret_becomes_active_with_the_first_sign_in(
    identity_app: App, clock: Clock
) -> None:
    app, client = identity_app
    person = await make_person(app, await make_party(app, "carrier"), totp=False)
    admin = await admin_headers(app)
    enrolled = await client.post(f"/v1/people/{person.id}/totp", headers=admin)
    secret = secret_of(enrolled.json()["provisioning_uri"])
    sign_in = {"username": person.username, "password": PASSWORD}
    wrong = await client.post("/v1/sessions", json={**sign_in, "otp": "000000"})
    assert wrong.json()["code"] == "invalid_credentials"
    assert (await stored(app, person.id)).totp_confirmed_at is None

    code = pyotp.TOTP(secret).at(clock.now)
    first = await client.post("/v1/sessions", json={**sign_in, "otp": code})
    assert first.status_code == 200, first.text
    assert (await stored(app, person.id)).totp_confirmed_at is not None
    assert len(await audit_events(app, "person.totp_confirmed")) == 1

    # the confirming code is used up; the next step's code signs in
    replay = await client.post("/v1/sessions", json={**sign_in, "otp": code})
    assert replay.json()["code"] == "invalid_credentials"
    clock.now += totp.STEP_SECONDS
    fresh = await client.post(
        "/v1/sessions", json={**sign_in, "otp": pyotp.TOTP(secret).at(clock.now)}
    )
    assert fresh.status_code == 200, fresh.text


async def test_an_admin_can_confirm_a_pending_secret(identity_app: App, clock: Clock) -> None:
    app, client = identity_app
    person = await make_person(app, await make_party(app, "carrier"), totp=False)
    admin = await admin_headers(app)
    enrolled = await client.post(f"/v1/people/{person.id}/totp", headers=admin)
    code = pyotp.TOTP(secret_of(enrolled.json()["provisioning_uri"])).at(clock.now)
    confirmed = await client.post(
        f"/v1/people/{person.id}/totp/confirm", json={"otp": code}, headers=admin
    )
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["person_id"] == str(person.id)
    assert (await stored(app, person.id)).totp_confirmed_at is not None


async def test_a_wrong_first_code_does_not_confirm(identity_app: App, clock: Clock) -> None:
    app, client = identity_app
    person = await make_person(app, await make_party(app, "carrier"), totp=False)
    admin = await admin_headers(app)
    enrolled = await client.post(f"/v1/people/{person.id}/totp", headers=admin)
    secret = secret_of(enrolled.json()["provisioning_uri"])
    wrong = wrong_code(clock.now, secret)
    answer = await client.post(
        f"/v1/people/{person.id}/totp/confirm", json={"otp": wrong}, headers=admin
    )
    assert answer.status_code == 422
    assert answer.json()["code"] == "otp_invalid"
    assert (await stored(app, person.id)).totp_confirmed_at is None
    [refusal] = await audit_events(app, "person.totp_confirm_refused")
    assert refusal["person_id"] == str(person.id)


async def test_re_enrolment_replaces_a_pending_secret(identity_app: App, clock: Clock) -> None:
    app, client = identity_app
    person = await make_person(app, await make_party(app, "carrier"), totp=False)
    admin = await admin_headers(app)
    first = await client.post(f"/v1/people/{person.id}/totp", headers=admin)
    second = await client.post(f"/v1/people/{person.id}/totp", headers=admin)
    old, new = (
        secret_of(first.json()["provisioning_uri"]),
        secret_of(second.json()["provisioning_uri"]),
    )
    assert old != new
    stale = await client.post(
        f"/v1/people/{person.id}/totp/confirm",
        json={"otp": pyotp.TOTP(old).at(clock.now)},
        headers=admin,
    )
    assert stale.status_code == 422
    current = await client.post(
        f"/v1/people/{person.id}/totp/confirm",
        json={"otp": pyotp.TOTP(new).at(clock.now)},
        headers=admin,
    )
    assert current.status_code == 200
    assert len(await audit_events(app, "person.totp_enrolled")) == 2


async def test_a_person_enrols_himself_only_while_no_factor_is_confirmed(
    identity_app: App, clock: Clock
) -> None:
    app, client = identity_app
    party = await make_party(app, "carrier")
    person = await make_person(app, party, totp=False)
    own = bearer(await person_token(app, person, party))
    enrolled = await client.post(f"/v1/people/{person.id}/totp", headers=own)
    assert enrolled.status_code == 200
    secret = secret_of(enrolled.json()["provisioning_uri"])
    confirmed = await client.post(
        f"/v1/people/{person.id}/totp/confirm",
        json={"otp": pyotp.TOTP(secret).at(clock.now)},
        headers=own,
    )
    assert confirmed.status_code == 200
    again = await client.post(f"/v1/people/{person.id}/totp", headers=own)
    assert again.status_code == 409
    assert again.json()["code"] == "totp_already_confirmed"
    assert (await stored(app, person.id)).totp_confirmed_at is not None
    confirm_again = await client.post(
        f"/v1/people/{person.id}/totp/confirm", json={"otp": "123456"}, headers=own
    )
    assert confirm_again.status_code == 409


async def test_an_admin_resets_a_confirmed_factor(identity_app: App) -> None:
    app, client = identity_app
    person = await make_person(app, await make_party(app, "carrier"))
    answer = await client.post(f"/v1/people/{person.id}/totp", headers=await admin_headers(app))
    assert answer.status_code == 200
    assert secret_of(answer.json()["provisioning_uri"]) != TOTP_SECRET
    assert (await stored(app, person.id)).totp_confirmed_at is None
    [event] = await audit_events(app, "person.totp_reset")
    assert event["person_id"] == str(person.id)


async def test_confirming_without_a_pending_secret_is_a_conflict(identity_app: App) -> None:
    app, client = identity_app
    person = await make_person(app, await make_party(app, "carrier"), totp=False)
    answer = await client.post(
        f"/v1/people/{person.id}/totp/confirm",
        json={"otp": "123456"},
        headers=await admin_headers(app),
    )
    assert answer.status_code == 409
    assert answer.json()["code"] == "totp_not_enrolled"


async def test_someone_else_may_not_enrol_a_person(identity_app: App) -> None:
    app, client = identity_app
    party = await make_party(app, "carrier")
    person = await make_person(app, party, totp=False)
    colleague = await make_person(app, party, "dispatcher")
    for headers in (
        bearer(await person_token(app, colleague, party)),
        bearer(await client_token(app, party)),
    ):
        answer = await client.post(f"/v1/people/{person.id}/totp", headers=headers)
        assert answer.status_code == 403
        assert answer.json()["code"] == "totp_enrolment_not_allowed"
    missing = await client.post(f"/v1/people/{person.id}/totp")
    assert missing.status_code == 401
    assert (await stored(app, person.id)).totp_secret_sealed is None
    assert await audit_events(app, "person.totp_enrolled") == []


async def test_enrolment_of_unknown_or_malformed_ids(identity_app: App) -> None:
    app, client = identity_app
    admin = await admin_headers(app)
    unknown = await client.post(f"/v1/people/{uuid.uuid4()}/totp", headers=admin)
    assert unknown.status_code == 404
    assert unknown.json()["code"] == "person_not_found"
    malformed = await client.post("/v1/people/not-a-uuid/totp", headers=admin)
    assert malformed.status_code == 422
    assert malformed.json()["code"] == "invalid_request"


@pytest.mark.parametrize(
    "body",
    [{"otp": "12345"}, {"otp": 123456}, {"otp": "12345a"}, {"otp": "123456", "x": 1}, {}],
)
async def test_malformed_confirmations_are_refused_as_invalid_input(
    identity_app: App, body: dict[str, object]
) -> None:
    app, client = identity_app
    person = await make_person(app, await make_party(app, "carrier"), totp=False)
    admin = await admin_headers(app)
    await client.post(f"/v1/people/{person.id}/totp", headers=admin)
    answer = await client.post(f"/v1/people/{person.id}/totp/confirm", json=body, headers=admin)
    assert answer.status_code == 422
    assert answer.json()["code"] == "invalid_request"
    assert (await stored(app, person.id)).totp_confirmed_at is None


async def test_the_totp_secret_never_appears_in_a_response_event_or_log_line(
    identity_app: App, clock: Clock, capsys: pytest.CaptureFixture[str]
) -> None:
    app, client = identity_app
    party = await make_party(app, "carrier")
    person = await make_person(app, party, totp=False)
    admin = await admin_headers(app)
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    answers: list[httpx.Response] = []
    try:
        configure_logging("DEBUG")
        enrolled = await client.post(f"/v1/people/{person.id}/totp", headers=admin)
        secret = secret_of(enrolled.json()["provisioning_uri"])
        code = pyotp.TOTP(secret).at(clock.now)
        url = f"/v1/people/{person.id}"
        answers.append(await client.post(f"{url}/totp/confirm", json={"otp": "000000"}))
        answers.append(await client.post(f"{url}/totp/confirm", json={"otp": code}, headers=admin))
        sign_in = {"username": person.username, "password": PASSWORD, "otp": code}
        answers.append(await client.post("/v1/sessions", json=sign_in))
        clock.now += totp.STEP_SECONDS
        sign_in["otp"] = pyotp.TOTP(secret).at(clock.now)
        answers.append(await client.post("/v1/sessions", json=sign_in))
        token = answers[-1].json()["access_token"]
        answers.append(await client.post(f"{url}/gate-pass", headers=bearer(token)))
        answers.append(await client.get(f"{url}", headers=admin))
        output = capsys.readouterr()
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
        structlog.reset_defaults()
    assert [answer.status_code for answer in answers[:5]] == [401, 200, 401, 200, 200]
    logged = output.out + output.err
    assert "second_factor_or_sign_in_refused" in logged  # the log was captured at all
    assert secret not in logged and secret.lower() not in logged
    for answer in answers:
        assert secret not in answer.text
    async with transaction(app.state.sessions) as session:
        stored_events = [row for row in await session.exec(select(AuditEvent.event))]
    assert stored_events and not any(secret in event for event in stored_events)


# --- the CLI -----------------------------------------------------------------------------------


async def test_cli_enrols_and_prints_the_provisioning_uri(
    identity_app: App, cli_env: None, tmp_path: Path
) -> None:
    app, _ = identity_app
    person = await make_person(app, await make_party(app, "carrier"), totp=False)
    qr_file = tmp_path / "qr.svg"
    result = await invoke_cli(cli, ["enrol-totp", str(person.id), "--qr-file", str(qr_file)])
    code, out, err = result.exit_code, result.stdout, result.stderr
    assert code == 0, err
    uri = out.strip()
    assert uri.startswith(f"otpauth://totp/Ketenpas:{person.username}?secret=")
    assert qr_file.read_text().startswith("<svg")
    assert qr_file.stat().st_mode & 0o077 == 0
    row = await stored(app, person.id)
    assert row.totp_secret_sealed is not None and row.totp_confirmed_at is None
    kek = app.state.settings.kek_bytes()
    opened = unseal(kek, row.totp_secret_sealed, bound_to=totp_binding(person.id))
    assert opened.decode() == secret_of(uri)
    [event] = await audit_events(app, "person.totp_enrolled")
    assert str(event["actor"]).startswith("cli:")


async def test_cli_replaces_a_confirmed_factor_only_with_reset(
    identity_app: App, cli_env: None
) -> None:
    app, _ = identity_app
    person = await make_person(app, await make_party(app, "carrier"))
    result = await invoke_cli(cli, ["enrol-totp", str(person.id)])
    code, out, err = result.exit_code, result.stdout, result.stderr
    assert code == 1
    assert "totp_already_confirmed" in err and out == ""
    assert (await stored(app, person.id)).totp_confirmed_at is not None
    result = await invoke_cli(cli, ["enrol-totp", str(person.id), "--reset"])
    code, out, _ = result.exit_code, result.stdout, result.stderr
    assert code == 0 and out.startswith("otpauth://")
    assert (await stored(app, person.id)).totp_confirmed_at is None
    assert len(await audit_events(app, "person.totp_reset")) == 1


async def test_cli_refuses_an_unknown_person(identity_app: App, cli_env: None) -> None:
    result = await invoke_cli(cli, ["enrol-totp", str(uuid.uuid4())])
    code, out, err = result.exit_code, result.stdout, result.stderr
    assert code == 1
    assert "person_not_found" in err and out == ""
    result = await invoke_cli(cli, ["enrol-totp", "not-a-uuid"])
    code, _, _ = result.exit_code, result.stdout, result.stderr
    assert code == 2
