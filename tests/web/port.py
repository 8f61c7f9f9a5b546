"""The web front end in process, in front of the two-service port of tests/release/port.py.

The front end reaches the services through an httpx transport that routes by host to their
ASGI apps, so a test drives the real pages, the real APIs and the real databases, with a
clock it can move (idle sessions) and cookies kept per browser (`WebPort.browser`).
"""

import re
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass, field

import httpx
import pytest
from fastapi import FastAPI

from services.identity.parties.models import Party
from services.identity.people.models import Person
from services.web.app import create_app
from services.web.settings import WebSettings
from tests.conftest import SettingsFactory
from tests.identity.factories import PASSWORD, make_person, totp_now
from tests.release.port import Port, make_port

WEB = "http://web.test"
IDENTITY = "http://identity.test"
RELEASE = "http://release.test"


class Services(httpx.AsyncBaseTransport):
    """The front end's line to the services: by host, to each one's ASGI app."""

    def __init__(self, apps: dict[str, FastAPI]) -> None:
        self.routes = {host: httpx.ASGITransport(app=app) for host, app in apps.items()}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self.routes[request.url.host].handle_async_request(request)


@dataclass
class WebClock:
    """The front end's clock, which a test moves on."""

    now: float = field(default_factory=time.time)

    def __call__(self) -> float:
        return self.now


@dataclass
class WebPort:
    """The port, the front end in front of it, and its clock."""

    port: Port
    app: FastAPI
    clock: WebClock
    stack: AsyncExitStack
    signed_in: dict[str, int] = field(default_factory=dict)

    async def browser(self) -> httpx.AsyncClient:
        """A new browser: its own cookie jar, talking to the front end."""
        transport = httpx.ASGITransport(app=self.app)
        return await self.stack.enter_async_context(
            httpx.AsyncClient(transport=transport, base_url=WEB)
        )

    async def person(self, member: str, role: str) -> Person:
        """A new person of a port member (password and TOTP as in tests/identity)."""
        party: Party = self.port[member].party
        return await make_person(self.port.identity, party, role)

    async def sign_in(self, browser: httpx.AsyncClient, person: Person) -> httpx.Response:
        """Sign the person in through the sign-in form; the answer to the form's post."""
        token = csrf_of((await browser.get("/signin")).text)
        # A code is spent once: a second sign-in of the same person uses the next step's
        # code, which the identity service still accepts (one step of clock drift).
        steps = self.signed_in.get(person.username, 0)
        assert steps < 2, "sign a person in at most twice per test"
        self.signed_in[person.username] = steps + 1
        code = totp_now(time.time() + 30 * steps)
        return await browser.post(
            "/signin",
            data={"csrf": token, "username": person.username, "password": PASSWORD, "otp": code},
        )


def csrf_of(page: str) -> str:
    """The CSRF token a page's forms carry."""
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


@pytest.fixture
async def web_port(
    make_settings: SettingsFactory, cache_url: tuple[str, str]
) -> AsyncIterator[WebPort]:
    """The two-service port with the web front end in front of it."""
    async with make_port(make_settings) as port, AsyncExitStack() as stack:
        url, prefix = cache_url
        settings = WebSettings(
            identity_url=IDENTITY,
            release_url=RELEASE,
            public_url=WEB,
            session_idle_seconds=600,
            cache_url=url,
            cache_prefix=prefix + "web:",
        )
        clock = WebClock()
        transport = Services({"identity.test": port.identity, "release.test": port.release})
        app = create_app(settings, transport=transport, clock=clock)
        await stack.enter_async_context(app.router.lifespan_context(app))
        yield WebPort(port=port, app=app, clock=clock, stack=stack)
