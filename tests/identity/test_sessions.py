"""People signing in at POST /v1/sessions: password + TOTP, one use per time step."""

import asyncio
import json
import re
import time
import uuid
from collections.abc import Awaitable, Callable

import httpx
import pytest
from fastapi import FastAPI
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError
from sqlmodel import func, select

from services.identity.app import create_app
from services.identity.clock import current_time
from services.identity.people import passwords
from services.identity.people.models import Person
from services.identity.sessions import totp
from services.identity.sessions.schemas import SignInRequest
from services.identity.settings import IdentitySettings
from shared.audit.models import AuditEvent
from shared.auth import verify_access_token
from shared.db import transaction
from tests.conftest import SettingsFactory, running
from tests.identity.assertions import audit_events
from tests.identity.conftest import Clock
from tests.identity.factories import (
    PASSWORD,
    bearer,
    make_party,
    make_person,
    totp_now,
    wrong_code,
)

App = tuple[FastAPI, httpx.AsyncClient]


def credentials(person: Person, otp: str) -> dict[str, str]:
    return {"username": person.username, "password": PASSWORD, "otp": otp}


async def event_count(app: FastAPI) -> int:
    async with transaction(app.state.sessions) as session:
        return (await session.exec(select(func.count()).select_from(AuditEvent))).one()


async def last_step(app: FastAPI, person: Person) -> int | None:
    async with transaction(app.state.sessions) as session:
        row = await session.get(Person, person.id)
    assert row is not None
    return row.totp_last_step


async def test_sign_in_answers_a_person_token_like_the_token_endpoint(
    identity_app: App, clock: Clock
) -> None:
    app, client = identity_app
    party = await make_party(app, "carrier")
    person = await make_person(app, party, "dispatcher")
    answer = await client.post("/v1/sessions", json=credentials(person, totp_now(clock.now)))
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"
    assert answer.headers["pragma"] == "no-cache"
    body = answer.json()
    settings = app.state.settings
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == settings.person_token_lifetime_seconds
    ring = await app.state.keyring.get()
    principal = verify_access_token(
        body["access_token"], issuer=settings.issuer, resolve_key=ring.resolve, now=clock.now
    )
    assert principal.person_id == person.id
    assert principal.person_role == "dispatcher"
    assert principal.party_id == party.id and principal.party_roles == {"carrier"}
    assert principal.auth_time == int(clock.now)
    assert principal.amr == ("pwd", "otp")
    assert principal.claims["exp"] - principal.claims["iat"] == body["expires_in"]
    [event] = await audit_events(app, "person.signed_in")
    assert event["person_id"] == str(person.id) and event["actor"] == f"person:{person.id}"
    assert event["address"] == "127.0.0.1"
    assert body["access_token"] not in json.dumps(event)


async def test_the_person_token_opens_the_api(identity_app: App, clock: Clock) -> None:
    app, client = identity_app
    party = await make_party(app, "carrier")
    person = await make_person(app, party)
    token = (
        await client.post("/v1/sessions", json=credentials(person, totp_now(clock.now)))
    ).json()["access_token"]
    # the gate pass endpoint takes a person token: proof that the token is accepted
    answer = await client.post(f"/v1/people/{person.id}/gate-pass", headers=bearer(token))
    assert answer.status_code == 200, answer.text


async def test_wrong_username_password_or_code_all_look_the_same(
    identity_app: App, clock: Clock
) -> None:
    app, client = identity_app
    person = await make_person(app, await make_party(app, "carrier"))
    right = totp_now(clock.now)
    wrong = wrong_code(clock.now)
    attempts = [
        {**credentials(person, right), "username": "nobody-" + uuid.uuid4().hex},
        {**credentials(person, right), "password": PASSWORD + "!"},
        credentials(person, wrong),
    ]
    bodies = []
    for attempt in attempts:
        answer = await client.post("/v1/sessions", json=attempt)
        assert answer.status_code == 401
        assert answer.headers["content-type"] == "application/problem+json"
        bodies.append(answer.json())
    assert all(body == bodies[0] for body in bodies)
    assert bodies[0]["code"] == "invalid_credentials"
    assert await audit_events(app, "person.signed_in") == []
    assert await last_step(app, person) is None
    refusals = await audit_events(app, "person.sign_in_refused")
    assert [r["person_id"] for r in refusals] == [None, str(person.id), str(person.id)]
    assert all(PASSWORD not in json.dumps(r) for r in refusals)


async def test_an_unknown_username_costs_a_password_verification(
    identity_app: App, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, client = identity_app
    verified: list[str | None] = []
    real = passwords.verify_password

    async def spy(password_hash: str | None, password: str) -> bool:
        verified.append(password_hash)
        return await real(password_hash, password)

    monkeypatch.setattr("services.identity.sessions.service.verify_password", spy)
    attempt = {"username": "nobody", "password": PASSWORD, "otp": totp_now(clock.now)}
    answer = await client.post("/v1/sessions", json=attempt)
    assert answer.json()["code"] == "invalid_credentials"
    assert verified == [None]  # the dummy hash was checked (passwords.verify_password)


async def test_a_used_code_is_refused(identity_app: App, clock: Clock) -> None:
    app, client = identity_app
    person = await make_person(app, await make_party(app, "carrier"))
    code = totp_now(clock.now)
    first = await client.post("/v1/sessions", json=credentials(person, code))
    assert first.status_code == 200
    clock.now += 5  # same time step
    replay = await client.post("/v1/sessions", json=credentials(person, code))
    assert replay.status_code == 401
    assert replay.json()["code"] == "invalid_credentials"
    assert await last_step(app, person) == totp.time_step(clock.now)


async def test_codes_of_the_neighbouring_steps_are_accepted_for_clock_drift(
    identity_app: App, clock: Clock
) -> None:
    app, client = identity_app
    person = await make_person(app, await make_party(app, "carrier"))
    previous = totp_now(clock.now - totp.STEP_SECONDS)
    assert (
        await client.post("/v1/sessions", json=credentials(person, previous))
    ).status_code == 200
    ahead = totp_now(clock.now + totp.STEP_SECONDS)
    assert (await client.post("/v1/sessions", json=credentials(person, ahead))).status_code == 200
    too_far = totp_now(clock.now + 2 * totp.STEP_SECONDS)
    assert (await client.post("/v1/sessions", json=credentials(person, too_far))).status_code == 401


async def test_a_step_before_the_last_used_one_is_refused(identity_app: App, clock: Clock) -> None:
    app, client = identity_app
    person = await make_person(app, await make_party(app, "carrier"))
    ahead = totp_now(clock.now + totp.STEP_SECONDS)
    assert (await client.post("/v1/sessions", json=credentials(person, ahead))).status_code == 200
    # the current code is valid on its own, but its step is older than the one just used
    current = await client.post("/v1/sessions", json=credentials(person, totp_now(clock.now)))
    assert current.status_code == 401
    assert await last_step(app, person) == totp.time_step(clock.now) + 1


async def test_ten_simultaneous_sign_ins_with_one_code_let_exactly_one_in(
    make_settings: SettingsFactory,
) -> None:
    # a high limit, so that the nine refusals do not lock the person out midway
    settings = make_settings("identity", sign_in_failures_per_person=100)
    assert isinstance(settings, IdentitySettings)
    app = create_app(settings)
    now = float(int(time.time()))
    app.dependency_overrides[current_time] = lambda: now
    async with running(app) as client:
        person = await make_person(app, await make_party(app, "carrier"))
        body = credentials(person, totp_now(now))
        answers = await asyncio.gather(*(client.post("/v1/sessions", json=body) for _ in range(10)))
        statuses = sorted(answer.status_code for answer in answers)
        assert statuses == [200] + [401] * 9
        assert {a.json()["code"] for a in answers if a.status_code == 401} == {
            "invalid_credentials"
        }
        assert len(await audit_events(app, "person.signed_in")) == 1
        assert len(await audit_events(app, "person.sign_in_refused")) == 9


FULL_WIDTH_DIGITS = "\uff11\uff12\uff13\uff14\uff15\uff16"  # digits, but not [0-9]

Refusal = Callable[[FastAPI], Awaitable[Person]]


async def suspended_person(app: FastAPI) -> Person:
    return await make_person(app, await make_party(app, "carrier"), status="suspended")


async def person_of_suspended_party(app: FastAPI) -> Person:
    return await make_person(app, await make_party(app, "carrier", status="suspended"))


async def person_of_revoked_party(app: FastAPI) -> Person:
    return await make_person(app, await make_party(app, "carrier", status="revoked"))


async def person_without_factor(app: FastAPI) -> Person:
    return await make_person(app, await make_party(app, "carrier"), totp=False)


@pytest.mark.parametrize(
    ("make", "code"),
    [
        (suspended_person, "person_not_active"),
        (person_of_suspended_party, "party_not_active"),
        (person_of_revoked_party, "party_not_active"),
        (person_without_factor, "second_factor_not_enrolled"),
    ],
)
async def test_sign_in_refusals_with_their_own_codes(
    identity_app: App, clock: Clock, make: Refusal, code: str
) -> None:
    app, client = identity_app
    person = await make(app)
    answer = await client.post("/v1/sessions", json=credentials(person, totp_now(clock.now)))
    assert answer.status_code == 401
    assert answer.json()["code"] == code
    assert await audit_events(app, "person.signed_in") == []
    [refusal] = await audit_events(app, "person.sign_in_refused")
    assert refusal["reason"] == code and refusal["person_id"] == str(person.id)


async def test_a_suspended_person_with_a_wrong_password_learns_nothing(
    identity_app: App, clock: Clock
) -> None:
    app, client = identity_app
    person = await suspended_person(app)
    attempt = {**credentials(person, totp_now(clock.now)), "password": "guess-guess-guess"}
    answer = await client.post("/v1/sessions", json=attempt)
    assert answer.json()["code"] == "invalid_credentials"


@pytest.mark.parametrize(
    "body",
    [
        {"username": "a", "password": "b"},
        {"username": "a", "password": "b", "otp": "123456", "remember": True},
        {"username": 1, "password": "b", "otp": "123456"},
        {"username": "a", "password": ["b"], "otp": "123456"},
        {"username": "a", "password": "b", "otp": 123456},
        {"username": "a", "password": "b", "otp": "12345"},
        {"username": "a", "password": "b", "otp": "1234567"},
        {"username": "a", "password": "b", "otp": "12 456"},
        {"username": "a", "password": "b", "otp": FULL_WIDTH_DIGITS},
        {"username": "", "password": "b", "otp": "123456"},
        {"username": "a" * 101, "password": "b", "otp": "123456"},
        {"username": "a\u0000b", "password": "b", "otp": "123456"},
        {"username": "a\ud800", "password": "b", "otp": "123456"},
        {"username": "a", "password": "b\ud800", "otp": "123456"},
        {"username": "a", "password": "x" * 1025, "otp": "123456"},
        [],
        "username",
        None,
    ],
)
async def test_malformed_sign_ins_are_invalid_input_and_change_nothing(
    identity_app: App, body: object
) -> None:
    app, client = identity_app
    before = await event_count(app)
    # json.dumps escapes lone surrogates, which httpx's own encoder cannot send
    answer = await client.post(
        "/v1/sessions", content=json.dumps(body), headers={"content-type": "application/json"}
    )
    assert answer.status_code == 422, answer.text
    assert answer.json()["code"] == "invalid_request"
    assert await event_count(app) == before


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b"{", "application/json"),
        (b'{"username": "a", "username": "b"', "application/json"),
        (b"\xff\xfe", "application/json"),
        (b"username=a&password=b&otp=123456", "application/x-www-form-urlencoded"),
        (b"", "application/json"),
    ],
)
async def test_unparseable_sign_ins_are_refused_without_a_500(
    identity_app: App, content: bytes, content_type: str
) -> None:
    _, client = identity_app
    answer = await client.post(
        "/v1/sessions", content=content, headers={"content-type": content_type}
    )
    assert 400 <= answer.status_code < 500
    assert answer.headers["content-type"] == "application/problem+json"


async def test_oversize_sign_ins_are_refused(identity_app: App) -> None:
    _, client = identity_app
    body = {"username": "a", "password": "x" * 100_000, "otp": "123456"}
    answer = await client.post("/v1/sessions", json=body)
    assert answer.status_code == 413
    assert answer.json()["code"] == "body_too_large"


@given(st.text(max_size=8))
def test_an_otp_parses_exactly_when_it_is_six_ascii_digits(text: str) -> None:
    try:
        SignInRequest.model_validate({"username": "u", "password": "p", "otp": text})
    except ValidationError:
        assert not re.fullmatch(r"[0-9]{6}", text)
    else:
        assert re.fullmatch(r"[0-9]{6}", text)


def storable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    controls = any(ord(char) < 0x20 or ord(char) == 0x7F for char in text)
    return 1 <= len(text) <= 100 and not controls


# lone surrogates included: JSON can carry them as \ud800 escapes
@given(st.text(st.characters(exclude_categories=[]), max_size=120))
def test_a_username_parses_exactly_when_it_is_storable_text(text: str) -> None:
    try:
        SignInRequest.model_validate({"username": text, "password": "p", "otp": "123456"})
    except ValidationError:
        accepted = False
    else:
        accepted = True
    assert accepted == storable(text)
