"""Gate passes: who gets one, how he proves his second factor, and how a gate verifies it."""

import base64
import json
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from hypothesis import given
from hypothesis import strategies as st
from joserfc.jwk import OKPKey

from services.identity.parties.models import Party
from services.identity.people.models import Person
from shared import jose
from shared.gatepass import (
    GATE_PASS_TYP,
    GatePass,
    GatePassRefused,
    gate_pass_claims,
    verify_gate_pass,
)
from tests.identity.assertions import audit_events
from tests.identity.conftest import Clock
from tests.identity.factories import (
    PASSWORD,
    bearer,
    client_token,
    make_party,
    make_person,
    person_token,
    totp_now,
    wrong_code,
)

App = tuple[FastAPI, httpx.AsyncClient]


def utc_today() -> date:
    """Today as the service counts days (UTC), whatever the machine's time zone."""
    return datetime.now(UTC).date()


YESTERDAY = utc_today() - timedelta(days=1)


async def driver(
    app: FastAPI, *, party_status: str = "active", **fields: Any
) -> tuple[Person, Party]:
    party = await make_party(app, "carrier", status=party_status)
    return await make_person(app, party, "driver", **fields), party


async def kiosk_headers(app: FastAPI) -> dict[str, str]:
    return bearer(await client_token(app, await make_party(app, "terminal")))


async def verify(app: FastAPI, token: str, now: float) -> GatePass:
    ring = await app.state.keyring.get()
    return verify_gate_pass(
        token, resolve_key=ring.resolve, issuer=app.state.settings.issuer, now=now
    )


def header_of(token: str) -> dict[str, object]:
    segment = token.split(".")[0]
    decoded: dict[str, object] = json.loads(base64.urlsafe_b64decode(segment + "=" * 4))
    return decoded


# --- issuing --------------------------------------------------------------------------------


async def test_a_driver_with_a_fresh_sign_in_gets_a_gate_pass(
    identity_app: App, clock: Clock
) -> None:
    app, client = identity_app
    person, party = await driver(app)
    token = await person_token(app, person, party, auth_time=int(clock.now) - 600)
    answer = await client.post(f"/v1/people/{person.id}/gate-pass", headers=bearer(token))
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"
    body = answer.json()
    settings = app.state.settings
    assert body["expires_in"] == settings.gate_pass_lifetime_seconds <= 120
    assert header_of(body["gate_pass"])["typ"] == GATE_PASS_TYP
    gate_pass = await verify(app, body["gate_pass"], clock.now)
    assert gate_pass.person_id == person.id and gate_pass.party_id == party.id
    assert gate_pass.amr == ("pwd", "otp")
    assert gate_pass.expires_at - gate_pass.issued_at == body["expires_in"]
    assert gate_pass.issued_at == int(clock.now)
    assert uuid.UUID(gate_pass.jti).version == 4
    assert gate_pass.screened_until == person.screened_until
    [event] = await audit_events(app, "gate_pass.issued")
    assert event["jti"] == gate_pass.jti and event["person_id"] == str(person.id)
    assert event["party_id"] == party.id and event["actor"] == f"person:{person.id}"
    assert body["gate_pass"] not in json.dumps(event)


async def test_each_gate_pass_has_its_own_jti(identity_app: App, clock: Clock) -> None:
    app, client = identity_app
    person, party = await driver(app)
    headers = bearer(await person_token(app, person, party, auth_time=int(clock.now)))
    url = f"/v1/people/{person.id}/gate-pass"
    first = (await client.post(url, headers=headers)).json()["gate_pass"]
    second = (await client.post(url, headers=headers)).json()["gate_pass"]
    jtis = {(await verify(app, token, clock.now)).jti for token in (first, second)}
    assert len(jtis) == 2


async def test_a_sign_in_older_than_the_window_is_refused(identity_app: App, clock: Clock) -> None:
    app, client = identity_app
    person, party = await driver(app)
    window = app.state.settings.second_factor_window_seconds
    token = await person_token(app, person, party, auth_time=int(clock.now) - window - 1)
    answer = await client.post(f"/v1/people/{person.id}/gate-pass", headers=bearer(token))
    assert answer.status_code == 401
    assert answer.json()["code"] == "second_factor_too_old"
    assert await audit_events(app, "gate_pass.issued") == []
    [refusal] = await audit_events(app, "gate_pass.refused")
    assert refusal["reason"] == "second_factor_too_old"


async def test_a_fresh_code_is_proof_enough_and_works_once(identity_app: App, clock: Clock) -> None:
    app, client = identity_app
    person, party = await driver(app)
    window = app.state.settings.second_factor_window_seconds
    old = bearer(await person_token(app, person, party, auth_time=int(clock.now) - window - 1))
    url = f"/v1/people/{person.id}/gate-pass"
    code = totp_now(clock.now)
    answer = await client.post(url, json={"otp": code}, headers=old)
    assert answer.status_code == 200, answer.text
    assert (await verify(app, answer.json()["gate_pass"], clock.now)).amr == ("otp",)
    replay = await client.post(url, json={"otp": code}, headers=old)
    assert replay.status_code == 401
    assert replay.json()["code"] == "otp_invalid"


async def test_a_code_used_to_sign_in_gets_no_gate_pass(identity_app: App, clock: Clock) -> None:
    app, client = identity_app
    person, _ = await driver(app)
    code = totp_now(clock.now)
    sign_in = {"username": person.username, "password": PASSWORD, "otp": code}
    assert (await client.post("/v1/sessions", json=sign_in)).status_code == 200
    answer = await client.post(
        f"/v1/people/{person.id}/gate-pass", json={"otp": code}, headers=await kiosk_headers(app)
    )
    assert answer.status_code == 401
    assert answer.json()["code"] == "otp_invalid"


async def test_a_terminal_kiosk_gets_a_gate_pass_with_the_drivers_code(
    identity_app: App, clock: Clock
) -> None:
    app, client = identity_app
    person, _ = await driver(app)
    kiosk = await kiosk_headers(app)
    url = f"/v1/people/{person.id}/gate-pass"
    answer = await client.post(url, json={"otp": totp_now(clock.now)}, headers=kiosk)
    assert answer.status_code == 200, answer.text
    assert (await verify(app, answer.json()["gate_pass"], clock.now)).amr == ("otp",)
    [event] = await audit_events(app, "gate_pass.issued")
    assert str(event["actor"]).startswith("client:") and event["proof"] == "otp"
    without_code = await client.post(url, headers=kiosk)
    assert without_code.status_code == 401
    assert without_code.json()["code"] == "otp_required"


async def test_a_terminal_operator_may_serve_as_kiosk(identity_app: App, clock: Clock) -> None:
    app, client = identity_app
    person, _ = await driver(app)
    terminal = await make_party(app, "terminal")
    operator = await make_person(app, terminal, "operator")
    headers = bearer(await person_token(app, operator, terminal))
    answer = await client.post(
        f"/v1/people/{person.id}/gate-pass", json={"otp": totp_now(clock.now)}, headers=headers
    )
    assert answer.status_code == 200, answer.text


async def test_others_may_not_ask_for_a_drivers_gate_pass(identity_app: App, clock: Clock) -> None:
    app, client = identity_app
    person, party = await driver(app)
    colleague = await make_person(app, party, "driver")
    terminal = await make_party(app, "terminal")
    terminal_admin = await make_person(app, terminal, "admin")
    callers = [
        bearer(await person_token(app, colleague, party)),
        bearer(await client_token(app, party)),
        bearer(await person_token(app, terminal_admin, terminal)),
        bearer(await client_token(app, await make_party(app, "admin"))),
    ]
    for headers in callers:
        answer = await client.post(
            f"/v1/people/{person.id}/gate-pass", json={"otp": totp_now(clock.now)}, headers=headers
        )
        assert answer.status_code == 403
        assert answer.json()["code"] == "gate_pass_not_allowed"
    anonymous = await client.post(f"/v1/people/{person.id}/gate-pass")
    assert anonymous.status_code == 401
    assert await audit_events(app, "gate_pass.issued") == []


async def test_an_unknown_driver_is_not_found(identity_app: App, clock: Clock) -> None:
    app, client = identity_app
    answer = await client.post(
        f"/v1/people/{uuid.uuid4()}/gate-pass",
        json={"otp": totp_now(clock.now)},
        headers=await kiosk_headers(app),
    )
    assert answer.status_code == 404
    assert answer.json()["code"] == "person_not_found"


async def test_a_non_driver_gets_no_gate_pass(identity_app: App, clock: Clock) -> None:
    app, client = identity_app
    party = await make_party(app, "carrier")
    dispatcher = await make_person(app, party, "dispatcher")
    token = bearer(await person_token(app, dispatcher, party))
    url = f"/v1/people/{dispatcher.id}/gate-pass"
    for answer in (
        await client.post(url, headers=token),
        await client.post(url, json={"otp": totp_now(clock.now)}, headers=await kiosk_headers(app)),
    ):
        assert answer.status_code == 403
        assert answer.json()["code"] == "not_a_driver"


@pytest.mark.parametrize(
    ("fields", "party_status", "status", "code"),
    [
        ({"status": "suspended"}, "active", 401, "person_not_active"),
        ({}, "suspended", 401, "party_not_active"),
        ({}, "revoked", 401, "party_not_active"),
        ({"screened_until": YESTERDAY}, "active", 403, "screening_expired"),
        ({"totp": False}, "active", 401, "second_factor_not_enrolled"),
    ],
)
async def test_an_ineligible_driver_gets_no_gate_pass_at_the_kiosk(
    identity_app: App,
    clock: Clock,
    fields: dict[str, object],
    party_status: str,
    status: int,
    code: str,
) -> None:
    app, client = identity_app
    person, _ = await driver(app, party_status=party_status, **fields)
    answer = await client.post(
        f"/v1/people/{person.id}/gate-pass",
        json={"otp": totp_now(clock.now)},
        headers=await kiosk_headers(app),
    )
    assert answer.status_code == status
    assert answer.json()["code"] == code
    assert await audit_events(app, "gate_pass.issued") == []
    [refusal] = await audit_events(app, "gate_pass.refused")
    assert refusal["reason"] == code and refusal["person_id"] == str(person.id)


@pytest.mark.parametrize(
    ("fields", "party_status", "code"),
    [
        ({"status": "suspended"}, "active", "person_not_active"),
        ({}, "suspended", "party_not_active"),
        ({"screened_until": YESTERDAY}, "active", "screening_expired"),
    ],
)
async def test_an_ineligible_driver_gets_no_gate_pass_with_his_own_token(
    identity_app: App, fields: dict[str, object], party_status: str, code: str
) -> None:
    app, client = identity_app
    person, party = await driver(app, party_status=party_status, **fields)
    token = bearer(await person_token(app, person, party))
    answer = await client.post(f"/v1/people/{person.id}/gate-pass", headers=token)
    assert answer.status_code in (401, 403)
    assert answer.json()["code"] == code


async def test_a_driver_screened_until_today_still_gets_one(identity_app: App) -> None:
    app, client = identity_app
    person, party = await driver(app, screened_until=utc_today())
    token = bearer(await person_token(app, person, party))
    answer = await client.post(f"/v1/people/{person.id}/gate-pass", headers=token)
    assert answer.status_code == 200, answer.text


@pytest.mark.parametrize(
    "body", [{"otp": "12345"}, {"otp": 123456}, {"otp": "123456", "extra": 1}, [], "x"]
)
async def test_malformed_gate_pass_requests_are_invalid_input(
    identity_app: App, body: object
) -> None:
    app, client = identity_app
    person, party = await driver(app)
    token = bearer(await person_token(app, person, party))
    answer = await client.post(f"/v1/people/{person.id}/gate-pass", json=body, headers=token)
    assert answer.status_code == 422
    assert answer.json()["code"] == "invalid_request"
    assert await audit_events(app, "gate_pass.issued") == []


async def test_a_wrong_code_at_the_kiosk_counts_towards_the_lock_out(
    identity_app: App, clock: Clock
) -> None:
    app, client = identity_app
    person, _ = await driver(app)
    kiosk = await kiosk_headers(app)
    url = f"/v1/people/{person.id}/gate-pass"
    right = totp_now(clock.now)
    wrong = wrong_code(clock.now)
    for _ in range(app.state.settings.sign_in_failures_per_person):
        answer = await client.post(url, json={"otp": wrong}, headers=kiosk)
        assert answer.json()["code"] == "otp_invalid"
    locked = await client.post(url, json={"otp": right}, headers=kiosk)
    assert locked.status_code == 429
    assert int(locked.headers["retry-after"]) > 0
    clock.now += int(locked.headers["retry-after"])
    fresh = await client.post(url, json={"otp": totp_now(clock.now)}, headers=kiosk)
    assert fresh.status_code == 200, fresh.text


# --- verifying (shared.gatepass, as the release service does) ----------------------------------

ISSUER = "https://identity.example"
SCREENED = date(2030, 1, 1)
NOW = 1_800_000_000


@pytest.fixture(scope="module")
def key() -> OKPKey:
    return jose.generate_key()


def make_gate_pass(key: OKPKey, **changes: object) -> str:
    claims = gate_pass_claims(
        issuer=ISSUER,
        person_id=uuid.UUID(int=7),
        party_id="EU.EORI.NL123456789",
        amr=["otp"],
        screened_until=SCREENED,
        now=NOW,
        lifetime=120,
    )
    typ = str(changes.pop("typ_", GATE_PASS_TYP))
    claims.update(changes)
    claims = {name: value for name, value in claims.items() if value is not None}
    return jose.sign(claims, key, typ=typ)


def check(key: OKPKey, token: str, *, now: float = NOW, issuer: str = ISSUER) -> GatePass:
    kid = jose.thumbprint(key)
    return verify_gate_pass(
        token, resolve_key=lambda k: key if k == kid else None, issuer=issuer, now=now
    )


def test_a_valid_gate_pass_verifies(key: OKPKey) -> None:
    gate_pass = check(key, make_gate_pass(key))
    assert gate_pass.person_id == uuid.UUID(int=7) and gate_pass.amr == ("otp",)
    assert gate_pass.expires_at == NOW + 120 and gate_pass.screened_until == SCREENED


@pytest.mark.parametrize(
    ("changes", "now", "code"),
    [
        ({}, NOW + 120 + 30, "token_expired"),
        ({}, NOW - 31, "token_not_yet_valid"),
        ({"exp": NOW + 121}, NOW, "token_lifetime_too_long"),
        ({"iss": "https://evil.example"}, NOW, "token_wrong_issuer"),
        ({"amr": ["pwd"]}, NOW, "gate_pass_without_second_factor"),
        ({"amr": []}, NOW, "token_claims_invalid"),
        ({"amr": "otp"}, NOW, "token_claims_invalid"),
        ({"sub": "not-a-uuid"}, NOW, "token_claims_invalid"),
        ({"jti": ""}, NOW, "token_claims_invalid"),
        ({"party": 5}, NOW, "token_claims_invalid"),
        ({"screened_until": "soon"}, NOW, "token_claims_invalid"),
        ({"screened_until": "2027-01-14"}, NOW, "screening_expired"),
        ({"exp": "later"}, NOW, "token_claims_invalid"),
    ],
)
def test_a_bad_gate_pass_is_refused_with_its_reason(
    key: OKPKey, changes: dict[str, object], now: float, code: str
) -> None:
    with pytest.raises(GatePassRefused) as refused:
        check(key, make_gate_pass(key, **changes), now=now)
    assert refused.value.code == code


def test_a_gate_pass_missing_a_claim_is_refused(key: OKPKey) -> None:
    for claim in ("sub", "party", "amr", "jti", "screened_until", "iat", "exp"):
        with pytest.raises(GatePassRefused) as refused:
            check(key, make_gate_pass(key, **{claim: None}))
        assert refused.value.code == "token_claims_invalid", claim


def test_other_token_types_and_foreign_keys_are_refused(key: OKPKey) -> None:
    with pytest.raises(GatePassRefused) as wrong_type:
        check(key, make_gate_pass(key, typ_="at+jwt"))
    assert wrong_type.value.code == "token_bad_type"
    with pytest.raises(GatePassRefused) as foreign:
        check(key, make_gate_pass(jose.generate_key()))
    assert foreign.value.code == "token_kid_unknown"
    header, payload, signature = make_gate_pass(key).split(".")
    forged = make_gate_pass(key, sub=str(uuid.UUID(int=8))).split(".")[1]
    with pytest.raises(GatePassRefused) as tampered:
        check(key, f"{header}.{forged}.{signature}")
    assert tampered.value.code == "token_bad_signature"
    assert payload != forged


def test_a_gate_pass_signed_without_a_signature_is_refused(key: OKPKey) -> None:
    header = base64.urlsafe_b64encode(
        json.dumps({"alg": "none", "typ": GATE_PASS_TYP, "kid": jose.thumbprint(key)}).encode()
    )
    payload = make_gate_pass(key).split(".")[1]
    with pytest.raises(GatePassRefused) as refused:
        check(key, f"{header.decode().rstrip('=')}.{payload}.")
    assert refused.value.code in {"token_alg_refused", "token_malformed"}


def test_issuing_more_than_two_minutes_is_impossible() -> None:
    with pytest.raises(ValueError, match="120"):
        gate_pass_claims(
            issuer=ISSUER,
            person_id=uuid.uuid4(),
            party_id="EU.EORI.NL123456789",
            amr=["otp"],
            screened_until=SCREENED,
            now=NOW,
            lifetime=121,
        )


_HYPOTHESIS_KEY = jose.generate_key()


@given(st.text(max_size=400))
def test_arbitrary_text_only_ever_raises_gate_pass_refused(text: str) -> None:
    with pytest.raises(GatePassRefused):
        check(_HYPOTHESIS_KEY, text)


@given(
    st.dictionaries(
        st.sampled_from(["iss", "sub", "party", "amr", "iat", "exp", "jti", "screened_until"]),
        st.none() | st.booleans() | st.integers() | st.text(max_size=20) | st.lists(st.text()),
    )
)
def test_arbitrary_signed_claims_verify_or_raise_gate_pass_refused(
    changes: dict[str, object],
) -> None:
    token = make_gate_pass(_HYPOTHESIS_KEY, **changes)
    try:
        gate_pass = check(_HYPOTHESIS_KEY, token)
    except GatePassRefused:
        return
    assert "otp" in gate_pass.amr and gate_pass.expires_at - gate_pass.issued_at <= 120
