"""The release service's view of the identity service: cached, bounded, failing closed."""

import time

import httpx
import pytest
from fastapi import FastAPI

from services.release.identity_client import IdentityDirectory, IdentityUnavailable
from shared import jose
from shared.credentials import verify_credential
from shared.problems import Problem
from tests.identity.credential_factories import issue_directly, make_port

App = tuple[FastAPI, httpx.AsyncClient]


class Switch(httpx.AsyncBaseTransport):
    """The identity app over ASGI, which a test can take away and bring back."""

    def __init__(self, app: FastAPI) -> None:
        self.inner = httpx.ASGITransport(app=app)
        self.up = True
        self.requests = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        if not self.up:
            raise httpx.ConnectError("identity service away", request=request)
        return await self.inner.handle_async_request(request)


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def directory(identity_app: App) -> tuple[IdentityDirectory, Switch, Clock]:
    app, _ = identity_app
    switch, clock = Switch(app), Clock()
    issuer = app.state.settings.issuer
    client = httpx.AsyncClient(transport=switch, base_url=issuer)
    return (
        IdentityDirectory(
            client, issuer=issuer, refresh_seconds=60, max_staleness_seconds=300, clock=clock
        ),
        switch,
        clock,
    )


async def test_keys_are_fetched_once_and_refreshed_after_the_interval(
    directory: tuple[IdentityDirectory, Switch, Clock],
) -> None:
    identity, switch, clock = directory
    keys = await identity.service_keys()
    assert keys
    await identity.service_keys()
    assert switch.requests == 1
    clock.now += 61
    await identity.service_keys()
    assert switch.requests == 2


async def test_a_short_outage_is_bridged_and_a_long_one_fails_closed(
    directory: tuple[IdentityDirectory, Switch, Clock],
) -> None:
    identity, switch, clock = directory
    keys = await identity.service_keys()
    switch.up = False
    clock.now += 200  # past the refresh interval, within the staleness bound
    assert await identity.service_keys() == keys
    clock.now += 101  # 301 s since the last good fetch
    with pytest.raises(IdentityUnavailable) as refused:
        await identity.service_keys()
    assert refused.value.status == 503 and refused.value.code == "identity_unavailable"
    switch.up = True
    assert await identity.service_keys() == keys


async def test_a_credential_verifies_with_fetched_keys_and_status_list(
    identity_app: App, directory: tuple[IdentityDirectory, Switch, Clock]
) -> None:
    app, client = identity_app
    identity, _, clock = directory
    port = await make_port(app, client)
    token = (await issue_directly(port)).token
    _, claims = jose.peek(token)
    uri = claims["status"]["status_list"]["uri"]
    status_list = await identity.status_list(uri)
    verified = verify_credential(
        token,
        resolve_key=await identity.resolver(jose.peek(token)[0]["kid"]),
        issuer=app.state.settings.issuer,
        status_lists={uri: status_list},
        now=clock.now,
    )
    assert verified.party_id == port.carrier.id


async def test_a_status_list_of_another_host_is_refused(
    directory: tuple[IdentityDirectory, Switch, Clock],
) -> None:
    identity, switch, _ = directory
    with pytest.raises(Problem) as refused:
        await identity.status_list("https://evil.example/v1/status-lists/1")
    assert refused.value.code == "status_list_foreign"
    assert switch.requests == 0


async def test_an_unknown_kid_refreshes_the_keys_once(
    directory: tuple[IdentityDirectory, Switch, Clock],
) -> None:
    identity, switch, _ = directory
    known = next(iter(await identity.service_keys()))
    assert (await identity.resolver(known))(known) is not None
    assert switch.requests == 1
    resolve = await identity.resolver("no-such-kid")
    assert resolve("no-such-kid") is None
    assert switch.requests == 2
