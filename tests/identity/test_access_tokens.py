"""The caller dependency (services.identity.deps.get_principal) against every bad token."""

import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from joserfc.jwk import OKPKey

from services.identity.deps import CurrentPrincipal
from services.identity.parties.models import Party
from services.identity.people.models import Person
from services.registry import SERVICES
from shared import jose
from shared.auth import ACCESS_TOKEN_AUDIENCE, ACCESS_TOKEN_TYP, issue_access_token
from shared.db import transaction
from tests.conftest import SettingsFactory, running
from tests.helpers import b64url_json
from tests.identity.factories import (
    add_certified_key,
    add_own_key,
    bearer,
    client_token,
    make_party,
    make_person,
    person_token,
)
from tests.identity.oauth_factories import (
    compact,
    hs256_with_public_key,
    request_token,
    sign_assertion,
)

WHOAMI = "/test/whoami"


async def whoami(principal: CurrentPrincipal) -> dict[str, Any]:
    """What the dependency made of the caller."""
    return {
        "party": principal.party_id,
        "roles": sorted(principal.party_roles),
        "scopes": sorted(principal.scopes),
        "person": str(principal.person_id) if principal.person_id else None,
        "person_role": principal.person_role,
        "actor": principal.actor,
    }


@dataclass
class Caller:
    """The identity app with a route behind get_principal, and a carrier party."""

    app: FastAPI
    client: httpx.AsyncClient
    party: Party
    kid: str
    key: OKPKey

    @property
    def issuer(self) -> str:
        return str(self.app.state.settings.issuer)

    def claims(self, **overrides: Any) -> dict[str, Any]:
        """Honest access-token claims for the party's client, with some changed."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": self.party.id,
            "aud": ACCESS_TOKEN_AUDIENCE,
            "client_id": self.party.id,
            "iat": now,
            "exp": now + 600,
            "jti": "at-1",
            "party": self.party.id,
            "roles": list(self.party.roles),
            "scope": "releases:read",
        }
        claims.update(overrides)
        return claims

    def token(self, **overrides: Any) -> str:
        return jose.sign(self.claims(**overrides), self.key, typ=ACCESS_TOKEN_TYP)

    def header(self, **overrides: Any) -> dict[str, Any]:
        header = {"alg": "Ed25519", "typ": ACCESS_TOKEN_TYP, "kid": self.kid}
        header.update(overrides)
        return {name: value for name, value in header.items() if value is not None}

    async def call(self, authorization: str | None) -> httpx.Response:
        headers = {"Authorization": authorization} if authorization is not None else {}
        return await self.client.get(WHOAMI, headers=headers)


@pytest.fixture
async def caller(make_settings: SettingsFactory) -> AsyncIterator[Caller]:
    app = SERVICES["identity"].create_app(make_settings("identity"))
    app.add_api_route(WHOAMI, whoami, methods=["GET"])
    async with running(app) as client:
        party = await make_party(app, "carrier")
        kid, key = await app.state.keyring.signing()
        yield Caller(app, client, party, kid, key)


async def set_status(
    app: FastAPI, model: type[Party] | type[Person], id_: Any, status: str
) -> None:
    async with transaction(app.state.sessions) as session:
        row = await session.get(model, id_)
        assert row is not None
        row.status = status
        session.add(row)


def assert_refused(response: httpx.Response, code: str) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == code


async def test_a_client_token_names_the_party_and_its_scopes(caller: Caller) -> None:
    response = await caller.call(f"Bearer {caller.token()}")
    assert response.status_code == 200, response.text
    assert response.json() == {
        "party": caller.party.id,
        "roles": ["carrier"],
        "scopes": ["releases:read"],
        "person": None,
        "person_role": None,
        "actor": f"client:{caller.party.id}",
    }


async def test_a_person_token_names_the_person_and_his_role(caller: Caller) -> None:
    person = await make_person(caller.app, caller.party, "dispatcher")
    response = await caller.client.get(
        WHOAMI, headers=bearer(await person_token(caller.app, person, caller.party))
    )
    assert response.status_code == 200, response.text
    assert response.json()["person"] == str(person.id)
    assert response.json()["person_role"] == "dispatcher"
    assert response.json()["actor"] == f"person:{person.id}"


async def test_a_token_from_the_token_endpoint_is_accepted(caller: Caller) -> None:
    key = await add_certified_key(caller.app, caller.party)
    issued = await request_token(
        caller.client, sign_assertion(key, caller.party.id, caller.issuer, int(time.time()))
    )
    response = await caller.call(f"Bearer {issued.json()['access_token']}")
    assert response.status_code == 200, response.text
    assert response.json()["scopes"] == ["chain:write", "releases:read", "subscriptions:manage"]


Authorization = Callable[[Caller], str | None]

REFUSED: list[tuple[str, Authorization, str]] = [
    ("no token", lambda c: None, "token_missing"),
    ("an empty bearer", lambda c: "Bearer ", "token_missing"),
    ("another scheme", lambda c: f"Basic {c.token()}", "token_missing"),
    ("a malformed token", lambda c: "Bearer not-a-jwt", "token_malformed"),
    ("two parts only", lambda c: "Bearer " + ".".join(c.token().split(".")[:2]), "token_malformed"),
    (
        "expired",
        lambda c: f"Bearer {c.token(iat=int(time.time()) - 7200, exp=int(time.time()) - 3600)}",
        "token_expired",
    ),
    (
        "not yet valid",
        lambda c: f"Bearer {c.token(iat=int(time.time()) + 3600, exp=int(time.time()) + 3900)}",
        "token_not_yet_valid",
    ),
    (
        "valid for more than an hour",
        lambda c: f"Bearer {c.token(exp=int(time.time()) + 7200)}",
        "token_lifetime_too_long",
    ),
    (
        "the wrong typ",
        lambda c: "Bearer " + jose.sign(c.claims(), c.key, typ="JWT"),
        "token_bad_type",
    ),
    (
        "alg none",
        lambda c: f"Bearer {b64url_json(c.header(alg='none'))}.{b64url_json(c.claims())}.",
        "token_alg_refused",
    ),
    (
        "HS256 with the public key as secret",
        lambda c: "Bearer " + hs256_with_public_key(c.header(alg="HS256"), c.claims(), c.key),
        "token_alg_refused",
    ),
    (
        "no kid",
        lambda c: "Bearer " + compact(c.header(kid=None), c.claims(), c.key),
        "token_kid_missing",
    ),
    (
        "an unknown kid",
        lambda c: "Bearer " + jose.sign(c.claims(), jose.generate_key(), typ=ACCESS_TOKEN_TYP),
        "token_kid_unknown",
    ),
    (
        "a forged signature",
        lambda c: (
            "Bearer "
            + ".".join(
                [
                    *compact(c.header(), c.claims(scope="admin"), c.key).split(".")[:2],
                    c.token().split(".")[2],
                ]
            )
        ),
        "token_bad_signature",
    ),
    (
        "the wrong issuer",
        lambda c: f"Bearer {c.token(iss='https://evil.example')}",
        "token_wrong_issuer",
    ),
    (
        "the wrong audience",
        lambda c: f"Bearer {c.token(aud='urn:elsewhere')}",
        "token_wrong_audience",
    ),
    (
        "missing party claims",
        lambda c: (
            "Bearer "
            + jose.sign(
                {k: v for k, v in c.claims().items() if k != "party"}, c.key, typ=ACCESS_TOKEN_TYP
            )
        ),
        "token_claims_invalid",
    ),
]


@pytest.mark.parametrize(
    ("authorization", "code"),
    [(a, c) for _, a, c in REFUSED],
    ids=[name for name, _, _ in REFUSED],
)
async def test_a_bad_token_is_refused_with_its_own_code(
    caller: Caller, authorization: Authorization, code: str
) -> None:
    assert_refused(await caller.call(authorization(caller)), code)


@pytest.mark.parametrize("status", ["suspended", "revoked"])
async def test_a_party_suspended_after_issuance_is_refused_at_once(
    caller: Caller, status: str
) -> None:
    token = await client_token(caller.app, caller.party)
    assert (await caller.client.get(WHOAMI, headers=bearer(token))).status_code == 200
    await set_status(caller.app, Party, caller.party.id, status)
    assert_refused(await caller.client.get(WHOAMI, headers=bearer(token)), "party_not_active")


async def test_a_token_of_an_unknown_party_is_refused(caller: Caller) -> None:
    response = await caller.call(f"Bearer {caller.token(party='EU.EORI.NL999999999')}")
    assert_refused(response, "party_not_active")


async def test_a_person_suspended_after_issuance_is_refused_at_once(caller: Caller) -> None:
    person = await make_person(caller.app, caller.party, "driver")
    token = await person_token(caller.app, person, caller.party)
    assert (await caller.client.get(WHOAMI, headers=bearer(token))).status_code == 200
    await set_status(caller.app, Person, person.id, "suspended")
    assert_refused(await caller.client.get(WHOAMI, headers=bearer(token)), "person_not_active")


async def test_a_person_of_a_suspended_party_is_refused(caller: Caller) -> None:
    person = await make_person(caller.app, caller.party, "driver")
    token = await person_token(caller.app, person, caller.party)
    await set_status(caller.app, Party, caller.party.id, "suspended")
    assert_refused(await caller.client.get(WHOAMI, headers=bearer(token)), "party_not_active")


async def test_a_token_signed_by_a_party_key_is_not_an_access_token(caller: Caller) -> None:
    # A party's registered key signs its assertions and links, never its own access tokens.
    party_key = await add_own_key(caller.app, caller.party)
    token = issue_access_token(
        party_key,
        issuer=caller.issuer,
        party_id=caller.party.id,
        party_roles=["admin"],
        scopes=["admin"],
        now=int(time.time()),
        lifetime=600,
    )
    assert_refused(await caller.call(f"Bearer {token}"), "token_kid_unknown")
