"""A small port for release-service tests: both services in one process, parties with own
and custodial keys and credentials, people, and helpers to sign links and acknowledgements.
"""

import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from joserfc.jwk import OKPKey
from sqlmodel import col, select

from services.identity.credentials import service as credentials
from services.identity.keys import service as keys
from services.identity.oauth.service import SCOPES_BY_ROLE
from services.identity.parties.models import Party
from services.identity.people.models import Person
from services.registry import SERVICES
from services.release.access.models import AccessLogEntry
from services.release.chain.models import Link
from services.release.chain.verify import ACK_TYP, LINK_TYP, link_hash
from services.release.gate.models import GateDecision, GateOut, UsedGatePass
from services.release.releases.models import Hold, Release
from shared import iso6346, jose
from shared.audit.models import AuditEvent
from shared.auth import Principal
from shared.db import transaction
from shared.models import utcnow
from tests.audit_helpers import integrate_all
from tests.conftest import SettingsFactory, running
from tests.identity.factories import (
    add_own_key,
    bearer,
    client_token,
    make_party,
    make_person,
    person_token,
)


@dataclass
class Member:
    """A party of the port: its own key (non-custodial), custodial key and API client."""

    party: Party
    key: OKPKey
    headers: dict[str, str]
    people: dict[str, Person] = field(default_factory=dict)

    @property
    def id(self) -> str:
        """The party id."""
        return self.party.id

    @property
    def kid(self) -> str:
        """The kid of its own key."""
        return jose.thumbprint(self.key)


class IdentityLine(httpx.AsyncBaseTransport):
    """The release service's line to the identity service, which a test can cut."""

    def __init__(self, app: FastAPI) -> None:
        self.inner = httpx.ASGITransport(app=app)
        self.up = True

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if not self.up:
            raise httpx.ConnectError("identity service away", request=request)
        return await self.inner.handle_async_request(request)


@dataclass
class Port:
    """Both services running, and the parties of a chain."""

    identity: FastAPI
    release: FastAPI
    client: httpx.AsyncClient
    identity_client: httpx.AsyncClient
    identity_line: IdentityLine
    members: dict[str, Member]
    # Each driver's own device key (its credential's subject is the driver), by person id.
    device_keys: dict[uuid.UUID, OKPKey] = field(default_factory=dict)

    def __getitem__(self, name: str) -> Member:
        return self.members[name]

    async def person_headers(self, name: str, role: str = "dispatcher") -> dict[str, str]:
        """The Authorization header of a (new or known) person of a member."""
        member = self.members[name]
        person = member.people.get(role)
        if person is None:
            person = await make_person(self.identity, member.party, role)
            member.people[role] = person
        return bearer(await person_token(self.identity, person, member.party))

    async def driver(self, name: str, **fields: Any) -> Person:
        """A new driver of a member, with a certified device key of his own if active."""
        driver = await make_person(self.identity, self.members[name].party, "driver", **fields)
        if driver.status == "active":
            self.device_keys[driver.id] = await add_device_key(self.identity, driver)
        return driver

    def device_ack(self, driver: Person, link_hash_: str, **claims: Any) -> str:
        """The driver's acceptance of an assignment, signed on his phone with his device key."""
        body = {
            "link": link_hash_,
            "sub": str(driver.id),
            "iat": int(time.time()),
            "jti": str(uuid.uuid4()),
        }
        return jose.sign({**body, **claims}, self.device_keys[driver.id], typ=ACK_TYP)

    async def driver_headers(self, name: str, driver: Person) -> dict[str, str]:
        """The Authorization header of a signed-in driver."""
        return bearer(await person_token(self.identity, driver, self.members[name].party))


async def issue_credential(app: FastAPI, party: Party, kid: str) -> None:
    """A credential for the party's key, as the identity service issues it."""
    _, signing_key = await app.state.keyring.signing()
    async with transaction(app.state.sessions) as session:
        await credentials.issue_credential(
            session,
            party_id=party.id,
            kid=kid,
            roles=None,
            settings=app.state.settings,
            signing_key=signing_key,
            actor="test",
            now=utcnow(),
        )


async def add_device_key(app: FastAPI, driver: Person) -> OKPKey:
    """A device key the driver registered himself, with its device credential."""
    private = jose.generate_key()
    principal = Principal(
        party_id=driver.party_id,
        party_roles=frozenset({"carrier"}),
        person_id=driver.id,
        person_role="driver",
    )
    _, signing_key = await app.state.keyring.signing()
    async with transaction(app.state.sessions) as session:
        await keys.register_device_key(
            session,
            settings=app.state.settings,
            signing_key=signing_key,
            caller=principal,
            person_id=driver.id,
            jwk=jose.public_jwk(private),
            now=utcnow(),
        )
    return private


async def add_member(identity: FastAPI, *roles: str, name: str = "") -> Member:
    """A party with an own key, a custodial key, a credential for each, and a client token."""
    party = await make_party(identity, *roles, name=name)
    key = await add_own_key(identity, party)
    await issue_credential(identity, party, jose.thumbprint(key))
    async with transaction(identity.state.sessions) as session:
        custodial = await keys.create_custodial_key(
            session, settings=identity.state.settings, party_id=party.id, actor="test", now=utcnow()
        )
    await issue_credential(identity, party, custodial.kid)
    scopes = sorted(set().union(*(SCOPES_BY_ROLE[role] for role in roles)))
    return Member(party, key, bearer(await client_token(identity, party, scopes)))


# name -> roles: the chain of the issue (shipping line -> forwarder -> forwarder -> carrier ->
# subcontractor -> driver), the terminal, the overseers, and outsiders for the attacks.
PORT_MEMBERS: dict[str, tuple[str, ...]] = {
    "line": ("shipping_line",),
    "forwarder": ("forwarder",),
    "forwarder2": ("forwarder",),
    "carrier": ("carrier",),
    "sub": ("carrier",),
    "terminal": ("terminal",),
    "customs": ("customs",),
    "security": ("port_security",),
    "other_line": ("shipping_line",),
    "other_carrier": ("carrier",),
    "other_terminal": ("terminal",),
}


@asynccontextmanager
async def make_port(make_settings: SettingsFactory, **release_settings: Any) -> AsyncIterator[Port]:
    """Both services, in one process, with the members of PORT_MEMBERS."""
    identity = SERVICES["identity"].create_app(make_settings("identity"))
    overrides: dict[str, Any] = {"inspect_probability": 0.0, **release_settings}
    async with running(identity) as identity_client:
        issuer = identity.state.settings.issuer
        line = IdentityLine(identity)
        release = SERVICES["release"].create_app(
            make_settings("release", identity_url=issuer, identity_issuer=issuer, **overrides),
            identity_transport=line,
        )
        async with running(release) as client:
            # Draws need a signed checkpoint of the log; the sequencer, off in tests, would
            # have signed one at start.
            await integrate_all(release)
            members = {
                name: await add_member(identity, *roles, name=name)
                for name, roles in PORT_MEMBERS.items()
            }
            yield Port(
                identity=identity,
                release=release,
                client=client,
                identity_client=identity_client,
                identity_line=line,
                members=members,
            )


_serials = iter(range(100000, 999999))


def new_container(owner: str = "KPT") -> str:
    """A fresh, valid ISO 6346 container number."""
    body = f"{owner}U{next(_serials):06d}"
    return body + str(iso6346.check_digit(body))


def in_days(days: float) -> datetime:
    """A moment some days from now, whole seconds (as NumericDates are)."""
    return (datetime.now(UTC) + timedelta(days=days)).replace(microsecond=0)


def sign_link(member: Member, **claims: Any) -> str:
    """A link signed with the member's own key; `from` defaults to the member."""
    now = int(time.time())
    body: dict[str, Any] = {
        "from": member.id,
        "iat": now,
        "exp": now + 86400,
        "jti": str(uuid.uuid4()),
        **claims,
    }
    return jose.sign({k: v for k, v in body.items() if v is not None}, member.key, typ=LINK_TYP)


def sign_ack(member: Member, link_jws: str, **claims: Any) -> str:
    """An acknowledgement of a link, signed with the member's own key."""
    body = {"link": link_hash(link_jws), "iat": int(time.time()), "jti": str(uuid.uuid4())}
    return jose.sign({**body, **claims}, member.key, typ=ACK_TYP)


def release_link(
    port: Port,
    *,
    release_id: uuid.UUID,
    container: str,
    valid_until: datetime,
    line: str = "line",
    to: str = "forwarder",
    terminal: str = "terminal",
    reference: str | None = None,
    **claims: Any,
) -> str:
    """A pre-signed release link (seq 0) from the shipping line."""
    return sign_link(
        port[line],
        release_id=str(release_id),
        container=container,
        seq=0,
        kind="release",
        to=port[to].id,
        terminal=port[terminal].id,
        valid_until=int(valid_until.timestamp()),
        reference=reference,
        **claims,
    )


def release_body(
    port: Port,
    container: str,
    *,
    to: str = "forwarder",
    terminal: str = "terminal",
    valid_until: datetime | None = None,
    reference: str | None = "BL-2026-0001",
    link: str | None = None,
    origin: str | None = None,
) -> dict[str, Any]:
    """The body of POST /v1/releases."""
    body: dict[str, Any] = {
        "container": container,
        "terminal": port[terminal].id,
        "release_to": port[to].id,
        "valid_until": (valid_until or in_days(3)).isoformat(),
        "reference": reference,
    }
    if link is not None:
        body["link"] = link
    if origin is not None:
        body["origin"] = origin
    return body


async def announce(
    port: Port,
    container: str,
    *,
    line: str = "line",
    terminal: str = "terminal",
    valid_until: datetime | None = None,
    state: str = "in_yard",
) -> dict[str, Any]:
    """The terminal's system announces the container in its yard, naming the entitled line."""
    body: dict[str, Any] = {"container": container, "shipping_line": port[line].id, "state": state}
    if valid_until is not None:
        body["valid_until"] = valid_until.isoformat()
    response = await port.client.post("/v1/yard/entries", json=body, headers=port[terminal].headers)
    assert response.status_code == 201, response.text
    entry: dict[str, Any] = response.json()
    return entry


async def access_log(app: FastAPI) -> list[AccessLogEntry]:
    """The access log, oldest first."""
    async with transaction(app.state.sessions) as session:
        return list(
            (await session.exec(select(AccessLogEntry).order_by(col(AccessLogEntry.id)))).all()
        )


async def audit_types(app: FastAPI) -> list[str]:
    """The types of the release service's audit events, oldest first."""
    async with transaction(app.state.sessions) as session:
        return list(
            (await session.exec(select(AuditEvent.event_type).order_by(col(AuditEvent.id)))).all()
        )


async def snapshot(app: FastAPI) -> dict[str, list[Any]]:
    """Everything the release service stores, but the access log (reads are recorded)."""
    tables = (Release, Link, Hold, GateDecision, GateOut, UsedGatePass, AuditEvent)
    state: dict[str, list[Any]] = {}
    async with transaction(app.state.sessions) as session:
        for table in tables:
            rows = (await session.exec(select(table))).all()
            state[table.__tablename__] = sorted(repr(row.model_dump()) for row in rows)
    return state


@asynccontextmanager
async def unchanged(app: FastAPI) -> AsyncIterator[None]:
    """The block leaves the release service's stored state as it found it."""
    before = await snapshot(app)
    yield
    assert await snapshot(app) == before
