"""POST /v1/token: client credentials with private_key_jwt (RFC 6749 §4.4, RFC 7523)."""

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from fastapi import FastAPI
from hypothesis import given
from hypothesis import strategies as st
from joserfc.jwk import OKPKey
from redis.exceptions import ConnectionError as RedisConnectionError
from sqlmodel import col, func, select

from services.identity.clock import current_time
from services.identity.keys.models import KeyStatus, PartyKey
from services.identity.oauth import service
from services.identity.oauth.endpoints import (
    MAX_FORM_BYTES,
    check_content_type,
    parse_token_form,
)
from services.identity.oauth.models import UsedAssertion
from services.identity.oauth.service import SCOPES, OAuthError, parse_scope
from services.identity.parties.models import Party
from services.identity.settings import IdentitySettings
from shared import jose
from shared.audit.models import AuditEvent
from shared.auth import ACCESS_TOKEN_AUDIENCE, verify_access_token
from shared.db import transaction
from tests.helpers import assert_oauth_problem
from tests.identity.factories import add_certified_key, add_own_key, make_party, new_eori
from tests.identity.oauth_factories import (
    ASSERTION_TYP,
    ASSERTION_TYPE,
    assertion_claims,
    compact,
    hs256_with_public_key,
    request_token,
    sign_assertion,
)


@dataclass
class World:
    """A running identity service at a fixed moment, with parties and their keys."""

    app: FastAPI
    client: httpx.AsyncClient
    settings: IdentitySettings
    now: int
    carrier: Party
    carrier_key: OKPKey
    shipping_line: Party
    shipping_line_key: OKPKey

    def assertion(self, **claims: Any) -> str:
        """An honest assertion of the carrier, with some claims changed."""
        return sign_assertion(
            self.carrier_key, self.carrier.id, self.settings.issuer, self.now, **claims
        )

    def claims(self, **overrides: Any) -> dict[str, Any]:
        """The carrier's honest assertion claims, with some changed."""
        return assertion_claims(self.carrier.id, self.settings.issuer, self.now, **overrides)

    def header(self, **overrides: Any) -> dict[str, Any]:
        """The carrier's honest JWS header, with some members changed (None removes one)."""
        header = {"alg": "Ed25519", "typ": ASSERTION_TYP, "kid": jose.thumbprint(self.carrier_key)}
        header.update(overrides)
        return {name: value for name, value in header.items() if value is not None}


@pytest.fixture
async def world(identity_app: tuple[FastAPI, httpx.AsyncClient]) -> World:
    app, client = identity_app
    now = int(time.time())
    app.dependency_overrides[current_time] = lambda: float(now)
    carrier = await make_party(app, "carrier")
    shipping_line = await make_party(app, "shipping_line")
    return World(
        app=app,
        client=client,
        settings=app.state.settings,
        now=now,
        carrier=carrier,
        carrier_key=await add_certified_key(app, carrier),
        shipping_line=shipping_line,
        shipping_line_key=await add_certified_key(app, shipping_line),
    )


async def count(app: FastAPI, model: Any, *where: Any) -> int:
    async with transaction(app.state.sessions) as session:
        result = await session.exec(select(func.count()).select_from(model).where(*where))
        return int(result.one())


async def issued_events(app: FastAPI) -> list[dict[str, Any]]:
    async with transaction(app.state.sessions) as session:
        rows = await session.exec(
            select(AuditEvent).where(col(AuditEvent.event_type) == "token.issued")
        )
        return [json.loads(row.event) for row in rows.all()]


async def assert_nothing_changed(app: FastAPI) -> None:
    assert await count(app, UsedAssertion) == 0
    assert await issued_events(app) == []


# --- the happy path -------------------------------------------------------------------------


async def test_a_valid_assertion_gets_a_bearer_access_token(world: World) -> None:
    response = await request_token(world.client, world.assertion())

    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["pragma"] == "no-cache"
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "scope"}
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == world.settings.access_token_lifetime_seconds
    assert body["scope"] == "chain:write releases:read subscriptions:manage"

    ring = await world.app.state.keyring.get()
    principal = verify_access_token(
        body["access_token"], issuer=world.settings.issuer, resolve_key=ring.resolve, now=world.now
    )
    assert principal.party_id == world.carrier.id
    assert principal.party_roles == {"carrier"}
    assert principal.scopes == {"chain:write", "releases:read", "subscriptions:manage"}
    assert principal.person_id is None
    header, claims = jose.peek(body["access_token"])
    assert header["typ"] == "at+jwt"
    assert header["alg"] == "Ed25519"
    assert header["kid"] == (await world.app.state.keyring.signing())[0]
    assert claims["sub"] == claims["client_id"] == world.carrier.id
    assert claims["aud"] == ACCESS_TOKEN_AUDIENCE
    assert claims["iat"] == world.now
    assert claims["exp"] - claims["iat"] == world.settings.access_token_lifetime_seconds


async def test_issuing_appends_an_audit_event_without_the_token(world: World) -> None:
    assertion = world.assertion(jti="assertion-1")
    response = await request_token(world.client, assertion)
    token = response.json()["access_token"]

    [event] = await issued_events(world.app)
    assert event["actor"] == f"client:{world.carrier.id}"
    assert event["party_id"] == world.carrier.id
    assert event["token_jti"] == jose.peek(token)[1]["jti"]
    assert event["assertion_jti"] == "assertion-1"
    assert event["kid"] == jose.thumbprint(world.carrier_key)
    assert event["scopes"] == ["chain:write", "releases:read", "subscriptions:manage"]
    serialised = json.dumps(event)
    for secret in (token, assertion, *token.split("."), *assertion.split(".")[1:]):
        assert secret not in serialised


async def test_the_used_assertion_is_kept_until_it_can_no_longer_verify(world: World) -> None:
    await request_token(world.client, world.assertion(jti="kept", exp=world.now + 20))

    async with transaction(world.app.state.sessions) as session:
        used = await session.get(UsedAssertion, (world.carrier.id, "kept"))
    assert used is not None
    assert used.expires_at == datetime.fromtimestamp(world.now + 20 + 30, UTC)


@pytest.mark.parametrize("typ", ["client-authentication+jwt", "JWT"])
async def test_both_assertion_types_are_accepted(world: World, typ: str) -> None:
    response = await request_token(
        world.client,
        sign_assertion(
            world.carrier_key, world.carrier.id, world.settings.issuer, world.now, typ=typ
        ),
    )
    assert response.status_code == 200, response.text


async def test_the_older_eddsa_algorithm_name_is_accepted(world: World) -> None:
    assertion = compact(world.header(alg="EdDSA"), world.claims(), world.carrier_key)
    assert (await request_token(world.client, assertion)).status_code == 200


async def test_a_one_element_audience_list_is_accepted(world: World) -> None:
    response = await request_token(world.client, world.assertion(aud=[world.settings.issuer]))
    assert response.status_code == 200, response.text


async def test_a_client_id_equal_to_the_issuer_is_accepted(world: World) -> None:
    response = await request_token(world.client, world.assertion(), client_id=world.carrier.id)
    assert response.status_code == 200, response.text


async def test_unknown_parameters_are_ignored_and_empty_ones_count_as_absent(
    world: World,
) -> None:
    response = await request_token(world.client, world.assertion(), audience="x", scope="")
    assert response.status_code == 200, response.text
    assert response.json()["scope"] == "chain:write releases:read subscriptions:manage"


async def test_the_same_jti_of_two_parties_are_two_assertions(world: World) -> None:
    first = await request_token(world.client, world.assertion(jti="shared"))
    second = await request_token(
        world.client,
        sign_assertion(
            world.shipping_line_key,
            world.shipping_line.id,
            world.settings.issuer,
            world.now,
            jti="shared",
        ),
    )
    assert (first.status_code, second.status_code) == (200, 200)


async def test_assertions_within_the_clock_skew_are_accepted(world: World) -> None:
    # Issued 29 s "in the future" and expired 29 s ago: both inside the 30 s leeway.
    future = world.assertion(iat=world.now + 29, exp=world.now + 59)
    past = world.assertion(iat=world.now - 59, exp=world.now - 29)
    assert (await request_token(world.client, future)).status_code == 200
    assert (await request_token(world.client, past)).status_code == 200


# --- scopes ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("roles", "requested", "granted"),
    [
        (("carrier",), None, "chain:write releases:read subscriptions:manage"),
        (("carrier",), "releases:read", "releases:read"),
        # Known but not allowed scopes are dropped: the grant is the intersection.
        (("carrier",), "releases:read gate admin", "releases:read"),
        (("shipping_line",), "releases:write", "releases:write"),
        (("terminal",), None, "gate holds:write releases:read subscriptions:manage"),
        (("admin",), None, "admin"),
        (("terminal", "customs"), "gate holds:write", "gate holds:write"),
        (
            ("port_security",),
            "audit:read audit:read",
            "audit:read",
        ),
    ],
)
async def test_scopes_are_granted_by_party_role(
    world: World, roles: tuple[str, ...], requested: str | None, granted: str
) -> None:
    party = await make_party(world.app, *roles)
    key = await add_certified_key(world.app, party)
    response = await request_token(
        world.client,
        sign_assertion(key, party.id, world.settings.issuer, world.now),
        scope=requested,
    )
    assert response.status_code == 200, response.text
    assert response.json()["scope"] == granted
    _, claims = jose.peek(response.json()["access_token"])
    assert claims["scope"] == granted


@pytest.mark.parametrize(
    ("scope", "code"),
    [
        ("releases:read teleport", "scope_unknown"),
        ("gate", "scope_not_allowed"),
        ("releases:read  chain:write", "scope_malformed"),
        (" releases:read", "scope_malformed"),
        ('releases:"read"', "scope_malformed"),
        ("releases:read\tchain:write", "scope_malformed"),
    ],
)
async def test_a_scope_that_cannot_be_granted_is_refused(
    world: World, scope: str, code: str
) -> None:
    response = await request_token(world.client, world.assertion(), scope=scope)
    assert_oauth_problem(response, 400, "invalid_scope", code)
    await assert_nothing_changed(world.app)


async def test_a_party_whose_roles_allow_no_scope_gets_no_token(world: World) -> None:
    party = await make_party(world.app)
    key = await add_own_key(world.app, party)  # no roles: no credential can hold its key
    response = await request_token(
        world.client, sign_assertion(key, party.id, world.settings.issuer, world.now)
    )
    assert_oauth_problem(response, 401, "invalid_client", "assertion_key_not_certified")


async def test_an_assertion_refused_for_its_scope_can_be_sent_again(world: World) -> None:
    assertion = world.assertion()
    refused = await request_token(world.client, assertion, scope="gate")
    accepted = await request_token(world.client, assertion, scope="releases:read")
    assert (refused.status_code, accepted.status_code) == (400, 200)


# --- hostile assertions ---------------------------------------------------------------------

Build = Callable[[World], str | tuple[str, dict[str, str]]]


def _typed(world: World, typ: str) -> str:
    return sign_assertion(
        world.carrier_key, world.carrier.id, world.settings.issuer, world.now, typ=typ
    )


def _raw(world: World, **claims: Any) -> str:
    """Signed with JSON escapes (\\u0000, \\ud800) that shared.jose would never write."""
    return compact(world.header(), world.claims(**claims), world.carrier_key)


def _raw_header(world: World, *, kid: None, **claims: Any) -> str:
    return compact(world.header(kid=kid), world.claims(**claims), world.carrier_key)


def _tampered(world: World) -> str:
    header, _, signature = world.assertion().split(".")
    forged = compact(world.header(), world.claims(scope="admin"), world.carrier_key).split(".")[1]
    return f"{header}.{forged}.{signature}"


HOSTILE: list[tuple[str, Build, str]] = [
    (
        "alg none",
        lambda w: compact(w.header(alg="none"), w.claims(), w.carrier_key).rsplit(".", 1)[0] + ".",
        "token_alg_refused",
    ),
    (
        "HS256 with the public key as secret",
        lambda w: hs256_with_public_key(w.header(alg="HS256"), w.claims(), w.carrier_key),
        "token_alg_refused",
    ),
    ("wrong typ", lambda w: _typed(w, "at+jwt"), "token_bad_type"),
    ("typ in lower case", lambda w: _typed(w, "jwt"), "token_bad_type"),
    ("no typ", lambda w: compact(w.header(typ=None), w.claims(), w.carrier_key), "token_bad_type"),
    (
        "no kid, and signed by no key of the party",
        lambda w: compact(w.header(kid=None), w.claims(), w.shipping_line_key),
        "token_bad_signature",
    ),
    (
        "no kid, and an iss no database stores",
        lambda w: _raw_header(w, kid=None, iss="EU.EORI.\ud800", sub="EU.EORI.\ud800"),
        "assertion_no_key_to_try",
    ),
    (
        "no kid, and alg none",
        lambda w: (
            compact(w.header(kid=None, alg="none"), w.claims(), w.carrier_key).rsplit(".", 1)[0]
            + "."
        ),
        "token_alg_refused",
    ),
    (
        "unknown kid",
        lambda w: sign_assertion(jose.generate_key(), w.carrier.id, w.settings.issuer, w.now),
        "token_kid_unknown",
    ),
    (
        "a key carried in the header",
        lambda w: compact(w.header(jwk=jose.public_jwk(w.carrier_key)), w.claims(), w.carrier_key),
        "token_header_refused",
    ),
    ("tampered claims", lambda w: _tampered(w), "token_bad_signature"),
    ("not a JWS", lambda w: "not.a.jws", "token_malformed"),
    (
        "expired",
        lambda w: w.assertion(iat=w.now - 120, exp=w.now - 90),
        "token_expired",
    ),
    (
        "issued in the future",
        lambda w: w.assertion(iat=w.now + 120, exp=w.now + 150),
        "token_not_yet_valid",
    ),
    (
        "not valid before a later time",
        lambda w: w.assertion(nbf=w.now + 120),
        "token_not_yet_valid",
    ),
    (
        "exp more than 30 s after iat",
        lambda w: w.assertion(exp=w.now + 31),
        "token_lifetime_too_long",
    ),
    ("no exp", lambda w: w.assertion(exp=None), "token_claims_invalid"),
    ("no iat", lambda w: w.assertion(iat=None), "token_claims_invalid"),
    (
        "wrong audience",
        lambda w: w.assertion(aud="https://elsewhere.example"),
        "assertion_wrong_audience",
    ),
    ("no audience", lambda w: w.assertion(aud=None), "assertion_wrong_audience"),
    ("empty audience list", lambda w: w.assertion(aud=[]), "assertion_wrong_audience"),
    (
        "the token endpoint as audience",
        lambda w: w.assertion(aud=w.settings.public_url + "/v1/token"),
        "assertion_wrong_audience",
    ),
    (
        "two audiences",
        lambda w: w.assertion(aud=[w.settings.issuer, "https://elsewhere.example"]),
        "assertion_multiple_audiences",
    ),
    (
        "the issuer twice",
        lambda w: w.assertion(aud=[w.settings.issuer, w.settings.issuer]),
        "assertion_multiple_audiences",
    ),
    (
        "iss differs from sub",
        lambda w: w.assertion(sub=w.shipping_line.id),
        "assertion_subject_mismatch",
    ),
    ("no iss", lambda w: w.assertion(iss=None), "assertion_issuer_missing"),
    ("no jti", lambda w: w.assertion(jti=None), "assertion_jti_missing"),
    ("a jti that is not a string", lambda w: w.assertion(jti=7), "assertion_jti_missing"),
    ("an overlong jti", lambda w: w.assertion(jti="j" * 201), "assertion_jti_too_long"),
    (
        "a key of another party",
        lambda w: sign_assertion(w.shipping_line_key, w.carrier.id, w.settings.issuer, w.now),
        "assertion_key_of_other_party",
    ),
    (
        "an unknown party",
        lambda w: (lambda other: w.assertion(iss=other, sub=other))(new_eori()),
        "party_unknown",
    ),
    (
        "an overlong iss",
        lambda w: w.assertion(iss="EU.EORI.NL" + "1" * 40, sub="EU.EORI.NL" + "1" * 40),
        "party_unknown",
    ),
    # JSON can carry what no database stores; such values must be refused, never queried.
    (
        "a NUL in iss",
        lambda w: _raw(w, iss=w.carrier.id + "\x00", sub=w.carrier.id + "\x00"),
        "party_unknown",
    ),
    (
        "a lone surrogate in iss",
        lambda w: _raw(w, iss="EU.EORI.\ud800", sub="EU.EORI.\ud800"),
        "party_unknown",
    ),
    ("a NUL in jti", lambda w: _raw(w, jti="a\x00b"), "assertion_jti_invalid"),
    ("a lone surrogate in jti", lambda w: _raw(w, jti="\udfff"), "assertion_jti_invalid"),
    (
        "a lone surrogate in kid",
        lambda w: compact(w.header(kid="\ud800"), w.claims(), w.carrier_key),
        "token_kid_unknown",
    ),
    (
        "client_id other than iss",
        lambda w: (w.assertion(), {"client_id": w.shipping_line.id}),
        "client_id_mismatch",
    ),
]


@pytest.mark.parametrize(
    ("build", "code"), [(b, c) for _, b, c in HOSTILE], ids=[n for n, _, _ in HOSTILE]
)
async def test_every_hostile_assertion_is_refused_with_its_own_code(
    world: World, build: Build, code: str
) -> None:
    built = build(world)
    assertion, params = built if isinstance(built, tuple) else (built, {})
    response = await request_token(world.client, assertion, **params)
    assert_oauth_problem(response, 401, "invalid_client", code)
    await assert_nothing_changed(world.app)


# --- assertions without kid, and the deliberate refusals ----------------------------------


async def test_an_assertion_without_kid_is_verified_with_the_partys_certified_keys(
    world: World,
) -> None:
    await add_own_key(world.app, world.carrier)  # no credential: never tried
    second = await add_certified_key(world.app, world.carrier)
    assertion = compact(world.header(kid=None), world.claims(jti="kidless"), second)

    response = await request_token(world.client, assertion)

    assert response.status_code == 200, response.text
    [event] = await issued_events(world.app)
    assert (event["kid"], event["assertion_jti"]) == (jose.thumbprint(second), "kidless")
    replayed = await request_token(world.client, assertion)
    assert_oauth_problem(replayed, 401, "invalid_client", "assertion_replayed")


async def test_an_assertion_without_kid_of_a_party_with_too_many_keys_is_refused(
    world: World,
) -> None:
    for _ in range(service.MAX_KEYS_WITHOUT_KID):
        await add_own_key(world.app, world.carrier)
    assertion = compact(world.header(kid=None), world.claims(), world.carrier_key)

    response = await request_token(world.client, assertion)

    assert_oauth_problem(response, 401, "invalid_client", "assertion_kid_required")
    await assert_nothing_changed(world.app)
    # Naming the key still works.
    assert (await request_token(world.client, world.assertion())).status_code == 200


async def test_a_long_lived_assertion_is_refused_saying_the_limit_is_deliberate(
    world: World,
) -> None:
    response = await request_token(world.client, world.assertion(exp=world.now + 3600))

    assert_oauth_problem(response, 401, "invalid_client", "token_lifetime_too_long")
    detail = response.json()["detail"]
    assert "at most 30 s" in detail
    assert "deliberate (iSHARE)" in detail


async def test_the_token_endpoint_as_audience_is_refused_saying_the_rule_is_deliberate(
    world: World,
) -> None:
    response = await request_token(
        world.client, world.assertion(aud=world.settings.public_url.rstrip("/") + "/v1/token")
    )

    assert_oauth_problem(response, 401, "invalid_client", "assertion_wrong_audience")
    detail = response.json()["detail"]
    assert f"exactly this issuer ({world.settings.issuer})" in detail
    assert "deliberate (draft-ietf-oauth-rfc7523bis)" in detail


async def test_a_retired_key_is_refused(world: World) -> None:
    async with transaction(world.app.state.sessions) as session:
        key = await session.get(PartyKey, jose.thumbprint(world.carrier_key))
        assert key is not None
        key.status = KeyStatus.retired
        session.add(key)
    response = await request_token(world.client, world.assertion())
    assert_oauth_problem(response, 401, "invalid_client", "assertion_key_retired")
    await assert_nothing_changed(world.app)


@pytest.mark.parametrize("status", ["suspended", "revoked"])
async def test_a_party_that_is_not_active_is_refused(world: World, status: str) -> None:
    party = await make_party(world.app, "carrier", status=status)
    key = await add_own_key(world.app, party)
    response = await request_token(
        world.client, sign_assertion(key, party.id, world.settings.issuer, world.now)
    )
    assert_oauth_problem(response, 401, "invalid_client", "party_not_active")
    await assert_nothing_changed(world.app)


# --- one-time use -------------------------------------------------------------------------


async def test_a_replayed_assertion_is_refused(world: World) -> None:
    assertion = world.assertion()
    first = await request_token(world.client, assertion)
    again = await request_token(world.client, assertion)
    assert first.status_code == 200
    assert_oauth_problem(again, 401, "invalid_client", "assertion_replayed")
    assert len(await issued_events(world.app)) == 1


async def test_a_replay_is_refused_by_the_database_after_the_cache_was_flushed(
    world: World,
) -> None:
    assertion = world.assertion(jti="flushed")
    assert (await request_token(world.client, assertion)).status_code == 200
    await world.app.state.cache.delete(service.replay_cache_key(world.carrier.id, "flushed"))

    again = await request_token(world.client, assertion)
    assert_oauth_problem(again, 401, "invalid_client", "assertion_replayed")
    assert len(await issued_events(world.app)) == 1
    # The refusal happened in a savepoint; the request's own transaction was not poisoned,
    # and the service goes on answering.
    assert (await request_token(world.client, world.assertion())).status_code == 200


async def test_twenty_simultaneous_uses_of_one_assertion_give_exactly_one_token(
    world: World,
) -> None:
    assertion = world.assertion()
    responses = await asyncio.gather(*(request_token(world.client, assertion) for _ in range(20)))
    statuses = sorted(response.status_code for response in responses)
    assert statuses == [200] + [401] * 19
    codes = {r.json()["code"] for r in responses if r.status_code == 401}
    assert codes == {"assertion_replayed"}
    assert len(await issued_events(world.app)) == 1


class ForgetfulCache:
    """A replay cache that never remembers (flushed at every request, or a bug)."""

    async def set_if_absent(self, key: str, value: str, ttl_seconds: float) -> bool:
        return True

    async def close(self) -> None:
        return None


class UnreachableCache:
    """A cache whose server is down."""

    async def set_if_absent(self, key: str, value: str, ttl_seconds: float) -> bool:
        raise RedisConnectionError("connection refused")

    async def close(self) -> None:
        return None


@pytest.fixture
async def swap_cache(world: World) -> AsyncIterator[Callable[[object], None]]:
    original = world.app.state.cache

    def swap(cache: object) -> None:
        world.app.state.cache = cache

    yield swap
    world.app.state.cache = original


async def test_without_the_cache_the_database_still_lets_only_one_of_twenty_through(
    world: World, swap_cache: Callable[[object], None]
) -> None:
    swap_cache(ForgetfulCache())
    assertion = world.assertion()
    responses = await asyncio.gather(*(request_token(world.client, assertion) for _ in range(20)))
    statuses = sorted(response.status_code for response in responses)
    assert statuses == [200] + [401] * 19
    assert len(await issued_events(world.app)) == 1
    assert await count(world.app, UsedAssertion) == 1


async def test_tokens_are_issued_when_the_cache_is_unreachable_and_replays_still_refused(
    world: World, swap_cache: Callable[[object], None]
) -> None:
    swap_cache(UnreachableCache())
    assertion = world.assertion()
    first = await request_token(world.client, assertion)
    again = await request_token(world.client, assertion)
    assert first.status_code == 200, first.text
    assert_oauth_problem(again, 401, "invalid_client", "assertion_replayed")


async def test_expired_used_assertions_are_purged_and_live_ones_kept(world: World) -> None:
    await request_token(
        world.client, world.assertion(jti="old", iat=world.now - 50, exp=world.now - 20)
    )
    await request_token(world.client, world.assertion(jti="live"))
    async with transaction(world.app.state.sessions) as session:
        purged = await service.purge_used_assertions(
            session=session, now=datetime.fromtimestamp(world.now + 30, UTC)
        )
    assert purged == 1
    assert await count(world.app, UsedAssertion, col(UsedAssertion.jti) == "live") == 1
    assert await count(world.app, UsedAssertion) == 1


# --- malformed requests -------------------------------------------------------------------


FORM = "application/x-www-form-urlencoded"


def _body(**params: str) -> str:
    return urlencode(
        {"grant_type": "client_credentials", "client_assertion_type": ASSERTION_TYPE, **params}
    )


@pytest.mark.parametrize(
    ("content_type", "body", "status", "error", "code"),
    [
        (
            "application/json",
            '{"grant_type": "client_credentials"}',
            415,
            "invalid_request",
            "unsupported_media_type",
        ),
        (None, "grant_type=client_credentials", 415, "invalid_request", "unsupported_media_type"),
        (
            "multipart/form-data; boundary=x",
            "--x--",
            415,
            "invalid_request",
            "unsupported_media_type",
        ),
        (
            FORM + "; charset=iso-8859-1",
            "grant_type=client_credentials",
            415,
            "invalid_request",
            "unsupported_media_type",
        ),
        (FORM, "", 400, "invalid_request", "grant_type_missing"),
        (FORM, "grant_type=", 400, "invalid_request", "grant_type_missing"),
        (
            FORM,
            "grant_type=password&username=a&password=b",
            400,
            "unsupported_grant_type",
            "grant_type_unsupported",
        ),
        (
            FORM,
            "grant_type=client_credentials",
            401,
            "invalid_client",
            "client_authentication_missing",
        ),
        (
            FORM,
            _body(client_assertion_type="urn:example:other", client_assertion="a.b.c"),
            401,
            "invalid_client",
            "client_assertion_type_unsupported",
        ),
        (FORM, _body(), 400, "invalid_request", "client_assertion_missing"),
        (
            FORM,
            _body() + "&grant_type=client_credentials",
            400,
            "invalid_request",
            "parameter_repeated",
        ),
        (FORM, "grant_type=client_credentials&&scope=x", 400, "invalid_request", "form_malformed"),
        (FORM, "grant_type", 400, "invalid_request", "form_malformed"),
        (FORM, "grant_type=client_credentials&scope=%FF", 400, "invalid_request", "form_malformed"),
        (FORM, "grant_type=client_crédentials", 400, "invalid_request", "form_malformed"),
        (FORM, "&".join(["x=1"] * 100), 400, "invalid_request", "form_malformed"),
        (
            FORM,
            _body(client_id="c" * 101, client_assertion="a.b.c"),
            400,
            "invalid_request",
            "parameter_invalid",
        ),
        (
            FORM,
            _body(client_assertion="x" * (jose.MAX_TOKEN_LENGTH + 1)),
            400,
            "invalid_request",
            "parameter_invalid",
        ),
        (
            FORM,
            _body(client_assertion="a" * (MAX_FORM_BYTES + 1)),
            413,
            "invalid_request",
            "body_too_large",
        ),
    ],
)
async def test_a_malformed_request_is_refused_with_an_oauth_error(
    world: World, content_type: str | None, body: str, status: int, error: str, code: str
) -> None:
    headers = {"content-type": content_type} if content_type else {}
    response = await world.client.post("/v1/token", content=body.encode(), headers=headers)
    assert_oauth_problem(response, status, error, code)
    await assert_nothing_changed(world.app)


async def test_a_huge_body_is_refused_before_it_is_read(world: World) -> None:
    body = b"grant_type=client_credentials&client_assertion=" + b"a" * (1024 * 1024)
    response = await world.client.post("/v1/token", content=body, headers={"content-type": FORM})
    assert response.status_code == 413
    assert response.json()["code"] == "body_too_large"
    await assert_nothing_changed(world.app)


async def test_a_token_request_must_be_a_post(world: World) -> None:
    response = await world.client.get("/v1/token")
    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"


# --- the form and scope parsers, property-tested -----------------------------------------

PARAMETERS = ("grant_type", "client_assertion_type", "client_assertion", "client_id", "scope")


@given(st.binary(max_size=300))
def test_any_body_parses_to_a_form_or_an_invalid_request(body: bytes) -> None:
    try:
        form = parse_token_form(body)
    except OAuthError as refusal:
        assert (refusal.status, refusal.error) == (400, "invalid_request")
    else:
        assert all(value for value in form.model_dump().values() if value is not None)


@given(
    st.dictionaries(
        st.sampled_from(PARAMETERS), st.text(min_size=1, max_size=60), max_size=len(PARAMETERS)
    ),
    st.dictionaries(
        st.text(min_size=1, max_size=10).filter(lambda name: name not in PARAMETERS),
        st.text(max_size=10),
        max_size=3,
    ),
)
def test_a_well_formed_body_parses_to_its_parameters_ignoring_unknown_ones(
    params: dict[str, str], unknown: dict[str, str]
) -> None:
    form = parse_token_form(urlencode({**unknown, **params}).encode())
    assert {name: value for name, value in form.model_dump().items() if value is not None} == params


@given(st.text(max_size=80))
def test_any_content_type_is_accepted_only_if_it_is_a_utf8_form(content_type: str) -> None:
    try:
        check_content_type(content_type)
    except OAuthError as refusal:
        assert (refusal.status, refusal.code) == (415, "unsupported_media_type")
    else:
        assert content_type.split(";")[0].strip().lower() == FORM


@given(st.text(max_size=80))
def test_any_scope_string_parses_to_known_scopes_or_invalid_scope(scope: str) -> None:
    try:
        scopes = parse_scope(scope)
    except OAuthError as refusal:
        assert refusal.error == "invalid_scope"
    else:
        assert scopes is not None
        assert scopes <= SCOPES
        assert " ".join(sorted(scopes)) == " ".join(sorted(set(scope.split(" "))))


@given(st.lists(st.sampled_from(sorted(SCOPES)), min_size=1, max_size=5))
def test_every_list_of_known_scopes_parses(scopes: list[str]) -> None:
    assert parse_scope(" ".join(scopes)) == frozenset(scopes)
