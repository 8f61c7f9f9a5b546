"""The service's signing keys: published before they sign, kept until what they signed expired."""

import asyncio
import base64
import getpass
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from joserfc.jwk import OKPKey
from sqlmodel import col, select
from typer.testing import CliRunner

from services.identity.clock import current_time
from services.identity.sealing import unseal
from services.identity.settings import IdentitySettings
from services.identity.signing import service as signing
from services.identity.signing.cli import cli
from services.identity.signing.keyring import KeyRingCache
from services.identity.signing.models import SigningKey
from shared import jose
from shared.audit.models import AuditEvent
from shared.auth import issue_access_token, verify_access_token
from shared.db import create_engine, session_factory, transaction
from shared.models import utcnow
from tests.conftest import Database
from tests.identity.factories import add_certified_key, make_party
from tests.identity.oauth_factories import request_token, sign_assertion

JWKS = "/.well-known/jwks.json"


@dataclass
class Clock:
    """The service's idea of now, moved by the test."""

    now: datetime

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Service:
    """The identity service with a keyring that reads the test's clock, never cached."""

    app: FastAPI
    client: httpx.AsyncClient
    settings: IdentitySettings
    clock: Clock

    def at(self, moment: datetime) -> None:
        self.clock.now = moment
        self.app.dependency_overrides[current_time] = lambda: moment.timestamp()

    async def rotate(self) -> SigningKey:
        async with transaction(self.app.state.sessions) as session:
            return await signing.rotate(session, self.settings, self.clock.now, actor="test")

    async def keyring(self) -> signing.KeyRing:
        async with self.app.state.sessions() as session:
            return await signing.load_keyring(session, self.settings, self.clock.now)

    async def published(self) -> set[str]:
        response = await self.client.get(JWKS)
        assert response.status_code == 200
        return {key["kid"] for key in response.json()["keys"]}

    async def token_kid(self) -> str:
        """The kid of an access token the token endpoint issues now."""
        party = await make_party(self.app, "carrier")
        key = await add_certified_key(self.app, party)
        now = int(self.clock.now.timestamp())
        response = await request_token(
            self.client, sign_assertion(key, party.id, self.settings.issuer, now)
        )
        assert response.status_code == 200, response.text
        return str(jose.peek(response.json()["access_token"])[0]["kid"])


@pytest.fixture
async def svc(identity_app: tuple[FastAPI, httpx.AsyncClient]) -> Service:
    app, client = identity_app
    clock = Clock(utcnow())
    app.state.keyring = KeyRingCache(app.state.settings, app.state.read_sessions, 0.0, clock=clock)
    service = Service(app, client, app.state.settings, clock)
    service.at(clock.now)
    return service


async def test_the_service_starts_with_one_key_that_signs_at_once(svc: Service) -> None:
    ring = await svc.keyring()
    assert ring.signing is not None
    assert set(ring.published) == {ring.signing[0]}
    assert await svc.published() == {ring.signing[0]}
    assert await svc.token_kid() == ring.signing[0]


async def test_a_rotated_in_key_is_published_before_it_signs(svc: Service) -> None:
    old = (await svc.keyring()).signing
    assert old is not None
    rotated_at = svc.clock.now
    new = await svc.rotate()

    assert new.activates_at == rotated_at + timedelta(
        seconds=svc.settings.signing_key_propagation_seconds
    )
    assert await svc.published() == {old[0], new.kid}
    assert await svc.token_kid() == old[0]
    svc.at(new.activates_at - timedelta(seconds=1))
    assert await svc.token_kid() == old[0]


async def test_the_new_key_signs_from_its_activation(svc: Service) -> None:
    new = await svc.rotate()
    svc.at(new.activates_at)
    ring = await svc.keyring()
    assert ring.signing is not None
    assert ring.signing[0] == new.kid
    assert await svc.token_kid() == new.kid


async def test_the_old_key_keeps_verifying_what_it_signed_until_publish_until(
    svc: Service,
) -> None:
    old_kid, old_key = await svc.app.state.keyring.signing()
    issued_at = int(svc.clock.now.timestamp())
    token = issue_access_token(
        old_key,
        issuer=svc.settings.issuer,
        party_id="EU.EORI.NL100000001",
        party_roles=["carrier"],
        scopes=[],
        now=issued_at,
        lifetime=3600,
    )
    new = await svc.rotate()

    svc.at(new.activates_at + timedelta(minutes=30))
    ring = await svc.keyring()
    assert ring.signing is not None
    assert ring.signing[0] == new.kid
    principal = verify_access_token(
        token, issuer=svc.settings.issuer, resolve_key=ring.resolve, now=issued_at + 1800
    )
    assert principal.party_id == "EU.EORI.NL100000001"

    async with transaction(svc.app.state.sessions) as session:
        retired = await session.get(SigningKey, old_kid)
    assert retired is not None
    assert retired.retired_at == new.activates_at
    assert retired.publish_until == new.activates_at + signing.max_signed_lifetime(svc.settings)
    svc.at(retired.publish_until - timedelta(seconds=1))
    assert old_kid in await svc.published()
    svc.at(retired.publish_until)
    assert await svc.published() == {new.kid}
    assert (await svc.keyring()).resolve(old_kid) is None


async def test_a_second_rotation_before_the_first_activates_hands_over_in_order(
    svc: Service,
) -> None:
    first_kid = (await svc.app.state.keyring.signing())[0]
    second = await svc.rotate()
    svc.at(svc.clock.now + timedelta(seconds=60))
    third = await svc.rotate()

    assert await svc.published() == {first_kid, second.kid, third.kid}
    svc.at(second.activates_at)
    assert await svc.token_kid() == second.kid
    svc.at(third.activates_at)
    assert await svc.token_kid() == third.kid


async def test_rotation_is_in_the_audit_log_with_its_actor(svc: Service) -> None:
    old_kid = (await svc.app.state.keyring.signing())[0]
    new = await svc.rotate()
    async with transaction(svc.app.state.sessions) as session:
        rows = await session.exec(
            select(AuditEvent).where(col(AuditEvent.event_type).startswith("signing_key."))
        )
        events = {row.event_type: json.loads(row.event) for row in rows.all()}
    rotated = events["signing_key.rotated"]
    assert rotated["actor"] == "test"
    assert rotated["kid"] == new.kid
    assert [entry["kid"] for entry in rotated["retired"]] == [old_kid]
    assert rotated["retired"][0]["retired_at"] == new.activates_at.isoformat()


async def test_private_keys_never_appear_in_any_response(svc: Service) -> None:
    await svc.rotate()
    async with transaction(svc.app.state.sessions) as session:
        keys = (await session.exec(select(SigningKey))).all()
    secrets: list[str] = []
    for row in keys:
        sealed = bytes(row.sealed_private)
        pem = unseal(svc.settings.kek_bytes(), sealed, bound_to=f"signing_keys:{row.kid}")
        secrets += [
            base64.b64encode(sealed).decode(),
            base64.urlsafe_b64encode(sealed).decode().rstrip("="),
            sealed.hex(),
            pem.decode(),
            _private_d(pem),
        ]

    bodies = [
        (await svc.client.get(JWKS)).text,
        (await svc.client.get("/.well-known/oauth-authorization-server")).text,
        (await svc.client.get("/openapi.json")).text,
    ]
    party = await make_party(svc.app, "carrier")
    key = await add_certified_key(svc.app, party)
    now = int(svc.clock.now.timestamp())
    token = await request_token(svc.client, sign_assertion(key, party.id, svc.settings.issuer, now))
    bodies.append(token.text)

    for entry in (await svc.client.get(JWKS)).json()["keys"]:
        assert set(entry) == {"kty", "crv", "x", "kid", "alg", "use"}
    for body in bodies:
        for secret in secrets:
            assert secret not in body


def _private_d(pem: bytes) -> str:
    value = OKPKey.import_key(pem).as_dict(private=True)["d"]
    assert isinstance(value, str)
    return value


# --- the CLI ------------------------------------------------------------------------------


def _cli_env(monkeypatch: pytest.MonkeyPatch, database: Database) -> None:
    monkeypatch.setenv("KETENPAS_IDENTITY_DATABASE_URL", database.url)
    if database.schema:
        monkeypatch.setenv("KETENPAS_IDENTITY_DATABASE_SCHEMA", database.schema)


async def _query(database: Database, work: Any) -> Any:
    engine = create_engine(database.url, schema=database.schema)
    try:
        async with transaction(session_factory(engine)) as session:
            return await work(session)
    finally:
        await engine.dispose()


def test_the_rotate_command_adds_a_key_and_logs_who_ran_it(
    databases: dict[str, Database], monkeypatch: pytest.MonkeyPatch
) -> None:
    database = databases["identity"]
    _cli_env(monkeypatch, database)
    runner = CliRunner()

    first = runner.invoke(cli, ["rotate"])
    second = runner.invoke(cli, ["rotate"])
    listed = runner.invoke(cli, ["list"])

    assert first.exit_code == 0, first.output
    assert second.exit_code == 0, second.output
    assert listed.exit_code == 0, listed.output

    async def inspect(session: Any) -> tuple[list[SigningKey], list[dict[str, Any]]]:
        keys = (await session.exec(select(SigningKey).order_by(col(SigningKey.created_at)))).all()
        rows = await session.exec(
            select(AuditEvent).where(col(AuditEvent.event_type) == "signing_key.rotated")
        )
        return list(keys), [json.loads(row.event) for row in rows.all()]

    keys, events = asyncio.run(_query(database, inspect))
    assert len(keys) == 2
    # The first rotation of an empty service signs at once: there was nothing to wait for.
    assert keys[0].activates_at <= keys[0].created_at + timedelta(seconds=1)
    assert keys[1].activates_at - keys[1].created_at >= timedelta(
        seconds=IdentitySettings().signing_key_propagation_seconds - 1
    )
    assert keys[0].retired_at == keys[1].activates_at
    assert f"new signing key {keys[1].kid}" in second.output
    assert {event["actor"] for event in events} == {f"cli:{getpass.getuser()}"}
    lines = listed.output.splitlines()
    assert [line.split()[:2] for line in lines] == [[keys[0].kid, "signing"], [keys[1].kid, "next"]]
