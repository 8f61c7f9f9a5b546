"""Threat: one person's wrong codes lock out everyone, or buy more guesses than the limit.

Kiosk gate passes reach the identity service from the release service's address, and every
phone behind the load balancer shares one: a corrupt terminal employee typing wrong codes at
his kiosk, or an outsider who knows a driver's username, must not lock out other kiosks or the
driver's own sign-in; a burst of concurrent guesses must get no more tries than the limit; a
forged forwarded address must buy nothing; and the limits must hold across replicas.
"""

import asyncio
import ipaddress
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from fastapi import FastAPI
from pydantic import ValidationError

from services.identity.app import create_app
from services.identity.clock import current_time
from services.identity.people.models import Person
from services.identity.settings import IdentitySettings
from tests.conftest import SettingsFactory, running
from tests.identity.conftest import App, Clock
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

REAL_KEY = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
ATTACKER = ("203.0.113.66", 40000)


@asynccontextmanager
async def client_at(app: FastAPI, address: tuple[str, int]) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the running app whose requests come from `address`."""
    transport = httpx.ASGITransport(app=app, client=address)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def kiosk(app: FastAPI) -> dict[str, str]:
    """A terminal's API client (a kiosk) and its Authorization header."""
    return bearer(await client_token(app, await make_party(app, "terminal")))


async def a_driver(app: FastAPI) -> Person:
    """A screened driver of a carrier, with the test password and TOTP."""
    return await make_person(app, await make_party(app, "carrier"), "driver")


async def gate_pass(
    client: httpx.AsyncClient, headers: dict[str, str], driver: Person, otp: str
) -> httpx.Response:
    """A kiosk asks for a gate pass with the code the driver typed in."""
    return await client.post(
        f"/v1/people/{driver.id}/gate-pass", json={"otp": otp}, headers=headers
    )


async def test_wrong_codes_at_one_kiosk_do_not_lock_out_every_other_kiosk(
    identity_app: App, clock: Clock
) -> None:
    # Both kiosks' requests come from one address (the release service's), as in the port.
    app, client = identity_app
    rogue, honest = await kiosk(app), await kiosk(app)
    per_person = app.state.settings.sign_in_failures_per_person
    drivers = [await a_driver(app) for _ in range(5)]
    for victim in drivers:
        for _ in range(per_person):
            await gate_pass(client, rogue, victim, wrong_code(clock.now))
    driver = await a_driver(app)
    answer = await gate_pass(client, honest, driver, totp_now(clock.now))
    assert answer.status_code == 200, answer.text


async def test_wrong_codes_for_a_driver_at_one_kiosk_do_not_lock_him_out_at_another(
    identity_app: App, clock: Clock
) -> None:
    app, client = identity_app
    rogue, honest = await kiosk(app), await kiosk(app)
    driver = await a_driver(app)
    for _ in range(app.state.settings.sign_in_failures_per_person + 2):
        await gate_pass(client, rogue, driver, wrong_code(clock.now))
    assert (await gate_pass(client, rogue, driver, totp_now(clock.now))).status_code == 429
    answer = await gate_pass(client, honest, driver, totp_now(clock.now))
    assert answer.status_code == 200, answer.text


async def test_a_terminals_operators_buy_no_more_guesses_than_its_kiosk_client(
    identity_app: App, clock: Clock
) -> None:
    # A corrupt terminal employee with several operator accounts is still one kiosk.
    app, client = identity_app
    terminal = await make_party(app, "terminal")
    kiosk_client = bearer(await client_token(app, terminal))
    operators = [
        bearer(await person_token(app, await make_person(app, terminal, "operator"), terminal))
        for _ in range(3)
    ]
    driver = await a_driver(app)
    for n in range(app.state.settings.sign_in_failures_per_person):
        caller = operators[n % len(operators)]
        assert (await gate_pass(client, caller, driver, wrong_code(clock.now))).status_code == 401
    for caller in (kiosk_client, *operators):
        answer = await gate_pass(client, caller, driver, totp_now(clock.now))
        assert answer.status_code == 429
    elsewhere = await gate_pass(client, await kiosk(app), driver, totp_now(clock.now))
    assert elsewhere.status_code == 200, elsewhere.text


async def test_an_attacker_who_knows_a_drivers_username_cannot_lock_him_out_of_his_phone(
    identity_app: App, clock: Clock
) -> None:
    app, client = identity_app
    driver = await a_driver(app)
    async with client_at(app, ATTACKER) as attacker:
        for _ in range(app.state.settings.sign_in_failures_per_person + 2):
            await attacker.post(
                "/v1/sessions",
                json={"username": driver.username, "password": "guess", "otp": "000000"},
            )
        refused = await attacker.post(
            "/v1/sessions",
            json={"username": driver.username, "password": PASSWORD, "otp": totp_now(clock.now)},
        )
        assert refused.status_code == 429  # the attacker's own guesses are over
    own = {"username": driver.username, "password": PASSWORD, "otp": totp_now(clock.now)}
    answer = await client.post("/v1/sessions", json=own)
    assert answer.status_code == 200, answer.text


async def test_a_concurrent_burst_of_wrong_passwords_gets_no_more_guesses_than_the_limit(
    identity_app: App, clock: Clock
) -> None:
    app, client = identity_app
    driver = await a_driver(app)
    limit = app.state.settings.sign_in_failures_per_person
    burst = [
        client.post(
            "/v1/sessions",
            json={"username": driver.username, "password": f"guess-{n}", "otp": "000000"},
        )
        for n in range(3 * limit)
    ]
    statuses = sorted(answer.status_code for answer in await asyncio.gather(*burst))
    assert statuses == [401] * limit + [429] * (2 * limit)


@asynccontextmanager
async def identity_behind_proxy(
    make_settings: SettingsFactory, clock: Clock
) -> AsyncIterator[FastAPI]:
    """The identity service behind a load balancer at 127.0.0.1 (the test client's address)."""
    settings = make_settings("identity", trusted_proxies=[ipaddress.ip_network("127.0.0.1/32")])
    assert isinstance(settings, IdentitySettings)
    app = create_app(settings)
    app.dependency_overrides[current_time] = clock
    async with running(app):
        yield app


async def test_behind_the_load_balancer_one_clients_failures_do_not_lock_out_another(
    make_settings: SettingsFactory,
) -> None:
    clock = Clock()
    async with identity_behind_proxy(make_settings, clock) as app:
        driver = await a_driver(app)
        async with client_at(app, ("127.0.0.1", 5000)) as balancer:
            for index in range(app.state.settings.sign_in_failures_per_address + 2):
                await balancer.post(
                    "/v1/sessions",
                    json={"username": f"guess-{index}", "password": "x", "otp": "000000"},
                    headers={"X-Forwarded-For": "198.51.100.1"},
                )
            own = {"username": driver.username, "password": PASSWORD, "otp": totp_now(clock.now)}
            refused = await balancer.post(
                "/v1/sessions", json=own, headers={"X-Forwarded-For": "198.51.100.1"}
            )
            assert refused.status_code == 429
            answer = await balancer.post(
                "/v1/sessions", json=own, headers={"Forwarded": 'for="198.51.100.2:4711"'}
            )
            assert answer.status_code == 200, answer.text


async def test_a_forged_forwarded_address_buys_no_fresh_guesses(
    make_settings: SettingsFactory, identity_app: App, clock: Clock
) -> None:
    # Straight to the service: its peer is no proxy, so the header is not believed.
    app, _ = identity_app
    limit = app.state.settings.sign_in_failures_per_address
    async with client_at(app, ATTACKER) as attacker:
        statuses = [
            (
                await attacker.post(
                    "/v1/sessions",
                    json={"username": f"guess-{n}", "password": "x", "otp": "000000"},
                    headers={"X-Forwarded-For": f"198.51.100.{n}", "Forwarded": f"for=10.0.0.{n}"},
                )
            ).status_code
            for n in range(limit + 1)
        ]
    assert statuses[-1] == 429
    # Through the trusted proxy: a client's own forged entries are left of the proxy's.
    behind = Clock()
    async with identity_behind_proxy(make_settings, behind) as proxied:
        limit = proxied.state.settings.sign_in_failures_per_address
        async with client_at(proxied, ("127.0.0.1", 5000)) as balancer:
            statuses = [
                (
                    await balancer.post(
                        "/v1/sessions",
                        json={"username": f"guess-{n}", "password": "x", "otp": "000000"},
                        headers={"X-Forwarded-For": f"198.51.100.{n}, 203.0.113.66"},
                    )
                ).status_code
                for n in range(limit + 1)
            ]
    assert statuses[-1] == 429


def test_production_refuses_limits_kept_in_one_process() -> None:
    # In-process counters are per replica: N replicas would give an attacker N times the guesses.
    for cache_url in ("memory://", ""):
        with pytest.raises(ValidationError, match="Redis"):
            IdentitySettings(
                environment="production",
                log_signing_key=REAL_KEY,
                key_encryption_key=REAL_KEY,
                cache_url=cache_url,
            )
