"""Preparation for the gate load test: a port, honest tokens, and releases with whole chains.

`seed_port` writes the parties and drivers straight into the identity database through the
identity service's own service functions (as `ketenpas demo seed` does): each party an
Ed25519 key of its own with a credential, carriers also a custodial key with a credential,
drivers with a password, a confirmed TOTP secret and a device key of their own with a device
credential (they accept their assignments on the phone, signed with it). Access tokens are
then obtained over HTTP the way clients and drivers obtain them: `POST /v1/token` with a
`private_key_jwt` assertion, `POST /v1/sessions` with password and a current TOTP code
(`client_tokens`, `sign_in`).

**How the releases are made.** Two ways, both used by `loadtests.bench_gate`:

- `build_chain_via_api`: through the release service's HTTP API, the terminal's client
  first announcing the container for the line (a yard entry), then pre-signed links and
  acknowledgements, the driver accepting his assignment with his person token and an
  acknowledgement signed with his device key. Realistic, and it exercises the real
  verification: every step verifies the whole chain so far. It costs two requests per link,
  each verifying the chain (a handful of Ed25519 verifications and credential checks), plus
  the yard entry: about 10 requests per release.
  On the 2-core development machine that gives 4 to 6 chains per second, so the several
  thousand releases a run of rate steps consumes would take half an hour or more per
  backend, far longer than the measurements themselves.
  The benchmark makes a small number this way: they are its warm-up pickups, and prove
  that the parties and tokens work through the API.
- `write_chains`: the bulk, written directly into the release database with the rows the
  API writes for the same steps: the terminal's `YardEntry`, a `Release`, one `Link` per
  step (accepted, with the receiver's acknowledgement), and the audit events
  `yard.announced`, `release.created`, `link.submitted` and `link.accepted` with the API's
  payloads. Links and acknowledgements are real JWS signed with the parties' keys (the
  driver's with his device key), so the gate verifies them exactly as it verifies chains
  made through the API; a row that differed would be answered `deny` and counted as a
  failure.

Signing uses `FastSigner`, which writes exactly the compact JWS `shared.jose.sign` writes
(the header segment is taken from one `jose.sign` call per key and typ) without the
per-call overhead, since a run signs some 100,000 links and acknowledgements.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import pyotp
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from joserfc.jwk import OKPKey
from sqlmodel.ext.asyncio.session import AsyncSession

from loadtests.harness import b64url
from services.identity.credentials import service as credentials
from services.identity.demo import enrolled_person
from services.identity.keys import service as keys
from services.identity.oauth.service import ASSERTION_TYPE, SCOPES_BY_ROLE
from services.identity.parties import service as parties
from services.identity.sealing import unseal
from services.identity.settings import IdentitySettings
from services.identity.signing import service as signing
from services.release.chain.models import Link, LinkKind, LinkStatus
from services.release.chain.rows import link_event
from services.release.chain.verify import ACK_TYP, LINK_TYP, link_hash
from services.release.releases.models import Release
from services.release.yard.models import YardEntry, YardState
from shared import iso6346, jose
from shared.audit.events import append
from shared.audit.sequencer import drain
from shared.audit.service import AuditLog
from shared.auth import Principal
from shared.db import SessionFactory, create_engine, session_factory, transaction
from shared.settings import ServiceSettings

ACTOR = "bench-gate-seed"
LINK_LIFETIME_SECONDS = 86_400
RELEASE_VALID_DAYS = 3
# Party ids: EU.EORI.NL + nine digits, from a range no demo or test party uses.
PARTY_NUMBER_BASE = 710_000_000


class FastSigner:
    """Signs claims into the compact JWS `shared.jose.sign` writes, header encoded once."""

    def __init__(self, key: OKPKey) -> None:
        private = key.private_key
        if not isinstance(private, Ed25519PrivateKey):
            raise TypeError("an Ed25519 private key is needed")
        self.key = key
        self.kid = jose.thumbprint(key)
        self._private = private
        self._headers: dict[str, str] = {}

    def sign(self, claims: Mapping[str, Any], *, typ: str) -> str:
        """A compact JWS over the claims, as jose.sign(claims, key, typ=typ) would make it."""
        header = self._headers.get(typ)
        if header is None:
            header = jose.sign({"iat": 0}, self.key, typ=typ).partition(".")[0]
            self._headers[typ] = header
        payload = json.dumps(dict(claims), separators=(",", ":"), ensure_ascii=False)
        signing_input = f"{header}.{b64url(payload.encode('utf-8'))}"
        signature = self._private.sign(signing_input.encode("ascii"))
        return f"{signing_input}.{b64url(signature)}"


@dataclass
class Member:
    """A party of the port with its own key (and, for a carrier, its custodial key)."""

    party_id: str
    role: str
    own: FastSigner
    custodial: FastSigner | None = None


@dataclass(frozen=True)
class Driver:
    """A driver of a carrier, who signs in with password and TOTP, and accepts his
    assignments with his own device key (certified by a device credential)."""

    person_id: uuid.UUID
    party_id: str
    username: str
    password: str
    totp_secret: str
    device: FastSigner


@dataclass(frozen=True)
class PortShape:
    """How many parties of each kind, and drivers per carrier."""

    shipping_lines: int = 3
    forwarders: int = 6
    carriers: int = 6
    terminals: int = 4
    drivers_per_carrier: int = 6
    port_security: int = 1


@dataclass
class Port:
    """The parties and drivers seeded into the identity database."""

    shipping_lines: list[Member] = field(default_factory=list)
    forwarders: list[Member] = field(default_factory=list)
    carriers: list[Member] = field(default_factory=list)
    terminals: list[Member] = field(default_factory=list)
    drivers: dict[str, list[Driver]] = field(default_factory=dict)  # by carrier party id
    port_security: list[Member] = field(default_factory=list)

    @property
    def members(self) -> dict[str, Member]:
        """Every party by id."""
        everyone = itertools.chain(
            self.shipping_lines, self.forwarders, self.carriers, self.terminals, self.port_security
        )
        return {member.party_id: member for member in everyone}

    @property
    def all_drivers(self) -> list[Driver]:
        """Every driver of every carrier."""
        return [driver for drivers in self.drivers.values() for driver in drivers]


async def drain_log(settings: ServiceSettings, sessions: SessionFactory) -> int:
    """Integrate every pending audit event into the service's log now; returns its size."""
    log = AuditLog(origin=settings.log_origin, private_key=settings.log_private_key())
    return await drain(sessions, signer=log.signer, origin=log.origin)


async def seed_port(settings: IdentitySettings, shape: PortShape) -> Port:
    """Register the port's parties, keys, credentials and drivers in the identity database."""
    engine = create_engine(settings.database_url, schema=settings.database_schema)
    sessions = session_factory(engine)
    port = Port()
    numbers = itertools.count(PARTY_NUMBER_BASE)
    try:
        async with transaction(sessions) as session:
            now = datetime.now(UTC)
            await signing.ensure_key(session, settings, now)
            await session.flush()
            ring = await signing.load_keyring(session, settings, now)
            assert ring.signing is not None
            _, service_key = ring.signing

            async def certify(party_id: str, kid: str) -> None:
                await credentials.issue_credential(
                    session,
                    party_id=party_id,
                    kid=kid,
                    roles=None,
                    settings=settings,
                    signing_key=service_key,
                    actor=ACTOR,
                    now=now,
                )

            async def member(role: str, name: str) -> Member:
                party_id = f"EU.EORI.NL{next(numbers)}"
                await parties.create_party(
                    session, party_id=party_id, name=name, roles=[role], actor=ACTOR, now=now
                )
                own = jose.generate_key()
                key = await keys.register_key(
                    session, party_id=party_id, jwk=jose.public_jwk(own), actor=ACTOR, now=now
                )
                await certify(party_id, key.kid)
                return Member(party_id=party_id, role=role, own=FastSigner(own))

            for n in range(shape.shipping_lines):
                port.shipping_lines.append(await member("shipping_line", f"Bench line {n}"))
            for n in range(shape.forwarders):
                port.forwarders.append(await member("forwarder", f"Bench forwarder {n}"))
            for n in range(shape.terminals):
                port.terminals.append(await member("terminal", f"Bench terminal {n}"))
            for n in range(shape.port_security):
                port.port_security.append(await member("port_security", f"Bench security {n}"))
            for n in range(shape.carriers):
                carrier = await member("carrier", f"Bench carrier {n}")
                row = await keys.create_custodial_key(
                    session, settings=settings, party_id=carrier.party_id, actor=ACTOR, now=now
                )
                await certify(carrier.party_id, row.kid)
                assert row.sealed_private is not None
                pem = unseal(
                    settings.kek_bytes(),
                    bytes(row.sealed_private),
                    bound_to=keys.bound_to(row.kid, carrier.party_id),
                )
                carrier.custodial = FastSigner(OKPKey.import_key(pem))
                port.carriers.append(carrier)
                port.drivers[carrier.party_id] = [
                    await _driver(session, settings, carrier, d, now, service_key=service_key)
                    for d in range(shape.drivers_per_carrier)
                ]
        await drain_log(settings, sessions)
    finally:
        await engine.dispose()
    return port


async def _driver(
    session: AsyncSession,
    settings: IdentitySettings,
    carrier: Member,
    number: int,
    now: datetime,
    *,
    service_key: OKPKey,
) -> Driver:
    """A driver with a password, a confirmed TOTP secret and a device key he registered
    himself, as the demo seed makes one."""
    username = f"bench.{carrier.party_id[-4:]}.driver{number}"
    person, password, secret = await enrolled_person(
        session,
        settings,
        party_id=carrier.party_id,
        role="driver",
        name=f"Bench driver {number} of {carrier.party_id}",
        username=username,
        now=now,
    )
    device = jose.generate_key()
    himself = Principal(
        party_id=carrier.party_id,
        party_roles=frozenset({"carrier"}),
        person_id=person.id,
        person_role="driver",
    )
    await keys.register_device_key(
        session,
        settings=settings,
        signing_key=service_key,
        caller=himself,
        person_id=person.id,
        jwk=jose.public_jwk(device),
        now=now,
    )
    return Driver(person.id, carrier.party_id, username, password, secret, FastSigner(device))


# --- tokens, obtained over HTTP as clients and drivers obtain them -------------------------


def client_assertion(member: Member, audience: str) -> str:
    """A `private_key_jwt` client assertion signed with the party's own key (RFC 7523)."""
    now = int(time.time())
    claims = {
        "iss": member.party_id,
        "sub": member.party_id,
        "aud": audience,
        "iat": now,
        "exp": now + 30,
        "jti": uuid.uuid4().hex,
    }
    return member.own.sign(claims, typ="client-authentication+jwt")


async def client_token(
    client: httpx.AsyncClient, member: Member, audience: str, scopes: Sequence[str] = ()
) -> str:
    """An access token for the party's API client from `POST /v1/token`."""
    form = {
        "grant_type": "client_credentials",
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": client_assertion(member, audience),
    }
    if scopes:
        form["scope"] = " ".join(sorted(scopes))
    response = await client.post("/v1/token", data=form)
    if response.status_code != 200:
        raise RuntimeError(f"token for {member.party_id}: {response.status_code} {response.text}")
    token: str = response.json()["access_token"]
    return token


async def client_tokens(
    client: httpx.AsyncClient, members: Sequence[Member], audience: str
) -> dict[str, str]:
    """Tokens for these parties' clients, each with the scopes of its role."""
    tokens = {}
    for member in members:
        scopes = sorted(SCOPES_BY_ROLE[member.role])
        tokens[member.party_id] = await client_token(client, member, audience, scopes)
    return tokens


async def sign_in(client: httpx.AsyncClient, driver: Driver) -> str:
    """The driver's person token from `POST /v1/sessions` (password and a current TOTP code)."""
    body = {
        "username": driver.username,
        "password": driver.password,
        "otp": pyotp.TOTP(driver.totp_secret).now(),
    }
    response = await client.post("/v1/sessions", json=body)
    if response.status_code != 200:
        raise RuntimeError(f"sign-in of {driver.username}: {response.status_code} {response.text}")
    token: str = response.json()["access_token"]
    return token


async def sign_in_all(client: httpx.AsyncClient, drivers: Sequence[Driver]) -> dict[str, str]:
    """Person tokens of every driver, by person id (each driver signs in once)."""
    limit = asyncio.Semaphore(4)

    async def one(driver: Driver) -> tuple[str, str]:
        async with limit:
            return str(driver.person_id), await sign_in(client, driver)

    return dict(await asyncio.gather(*(one(driver) for driver in drivers)))


async def gate_passes(
    client: httpx.AsyncClient, pickups: Sequence[Pickup], driver_tokens: dict[str, str]
) -> dict[str, str]:
    """A gate pass for each pickup (by release id), fetched as the drivers' phones would."""
    limit = asyncio.Semaphore(8)

    async def one(pickup: Pickup) -> tuple[str, str]:
        async with limit:
            response = await client.post(
                f"/v1/people/{pickup.driver}/gate-pass",
                headers={"Authorization": f"Bearer {driver_tokens[pickup.driver]}"},
            )
            response.raise_for_status()
            return pickup.release_id, str(response.json()["gate_pass"])

    return dict(await asyncio.gather(*(one(pickup) for pickup in pickups)))


# --- chains ---------------------------------------------------------------------------------


def container_numbers(owner: str = "KPG") -> Iterator[str]:
    """Valid ISO 6346 numbers, distinct: owner codes KPG, KPH, ... each with a million serials."""
    first = ord(owner[2])
    for letter in range(first, ord("Z") + 1):
        for serial in range(1_000_000):
            body = f"{owner[:2]}{chr(letter)}U{serial:06d}"
            yield body + str(iso6346.check_digit(body))


@dataclass(frozen=True)
class ChainPlan:
    """Who takes part in one release: line, receivers in order (ending in the carrier that
    assigns), the driver, the terminal and the container."""

    release_id: uuid.UUID
    container: str
    terminal: Member
    line: Member
    receivers: tuple[Member, ...]
    driver: Driver

    @property
    def links(self) -> int:
        """Links in the chain: the release, the handovers, the assignment."""
        return len(self.receivers) + 1


@dataclass(frozen=True)
class Pickup:
    """A release waiting at the gate, and the driver who will come for it."""

    release_id: str
    container: str
    terminal: str
    driver: str

    def as_json(self) -> dict[str, str]:
        """The form the locustfile reads."""
        return {
            "release_id": self.release_id,
            "container": self.container,
            "terminal": self.terminal,
            "driver": self.driver,
        }


# (forwarders, carriers) in a chain, by number of links: 4, 5 or 6 (release, handovers,
# assignment); the receivers are the forwarders in turn, then the carriers.
_SHAPES = {4: ((2, 1), (1, 2)), 5: ((3, 1), (2, 2)), 6: ((3, 2),)}


def plan_chain(port: Port, rng: random.Random, *, terminal: Member, container: str) -> ChainPlan:
    """A chain of 4 to 6 links through distinct parties, to one of the last carrier's drivers."""
    links = rng.choice(sorted(_SHAPES))
    forwarders, carriers = rng.choice(_SHAPES[links])
    receivers = (*rng.sample(port.forwarders, forwarders), *rng.sample(port.carriers, carriers))
    return ChainPlan(
        release_id=uuid.uuid4(),
        container=container,
        terminal=terminal,
        line=rng.choice(port.shipping_lines),
        receivers=receivers,
        driver=rng.choice(port.drivers[receivers[-1].party_id]),
    )


@dataclass(frozen=True)
class _Step:
    """One link of a planned chain: its token and who signed, received and accepted it."""

    seq: int
    kind: str
    sender: Member
    to: str
    receiver_party: str
    jws: str
    jti: str


@dataclass(frozen=True)
class _Ack:
    """A receiver's acknowledgement and its jti."""

    jws: str
    jti: str


def _valid_until(now: int) -> int:
    return now + RELEASE_VALID_DAYS * 86_400


def _link_claims(plan: ChainPlan, *, now: int, valid_until: int) -> Iterator[dict[str, Any]]:
    """The claims of each link of the plan, without `prev` (known once the previous is signed)."""
    senders = (plan.line, *plan.receivers)
    for seq, sender in enumerate(senders):
        if seq == 0:
            kind, to = LinkKind.release, plan.receivers[0].party_id
        elif seq == len(plan.receivers):
            kind, to = LinkKind.assignment, str(plan.driver.person_id)
        else:
            kind, to = LinkKind.handover, plan.receivers[seq].party_id
        claims: dict[str, Any] = {
            "from": sender.party_id,
            "iat": now,
            "exp": now + LINK_LIFETIME_SECONDS,
            "jti": str(uuid.uuid4()),
            "release_id": str(plan.release_id),
            "container": plan.container,
            "seq": seq,
            "kind": str(kind),
            "to": to,
        }
        if seq == 0:
            claims.update(
                terminal=plan.terminal.party_id, valid_until=valid_until, reference=_reference(plan)
            )
        yield claims


def _reference(plan: ChainPlan) -> str:
    return f"BL-BENCH-{plan.container}"


def _signed_links(plan: ChainPlan, *, now: int, valid_until: int) -> list[_Step]:
    senders = (plan.line, *plan.receivers)
    steps: list[_Step] = []
    prev: str | None = None
    for claims, sender in zip(
        _link_claims(plan, now=now, valid_until=valid_until), senders, strict=True
    ):
        if prev is not None:
            claims["prev"] = prev
        jws = sender.own.sign(claims, typ=LINK_TYP)
        assignment = claims["kind"] == LinkKind.assignment
        steps.append(
            _Step(
                seq=claims["seq"],
                kind=claims["kind"],
                sender=sender,
                to=claims["to"],
                receiver_party=sender.party_id if assignment else claims["to"],
                jws=jws,
                jti=claims["jti"],
            )
        )
        prev = link_hash(jws)
    return steps


def _ack(plan: ChainPlan, step: _Step, *, now: int) -> _Ack:
    """The receiver's acknowledgement: a party with its own key; a driver with his own
    device key, with `sub` naming him (as his phone signs it)."""
    jti = str(uuid.uuid4())
    claims: dict[str, Any] = {"link": link_hash(step.jws), "iat": now, "jti": jti}
    if step.kind == LinkKind.assignment:
        claims["sub"] = step.to
        return _Ack(plan.driver.device.sign(claims, typ=ACK_TYP), jti)
    receiver = next(member for member in plan.receivers if member.party_id == step.to)
    return _Ack(receiver.own.sign(claims, typ=ACK_TYP), jti)


@dataclass
class _ChainRows:
    """The rows and audit events the API writes for the whole chain of one release."""

    entry: YardEntry
    release: Release
    links: list[Link] = field(default_factory=list)
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


def _chain_rows(plan: ChainPlan, *, now: datetime) -> _ChainRows:
    """What the API writes for one release: created, then each link submitted and accepted."""
    stamp = int(now.timestamp())
    valid_until = _valid_until(stamp)
    steps = _signed_links(plan, now=stamp, valid_until=valid_until)
    line_actor = f"client:{plan.line.party_id}"
    terminal_actor = f"client:{plan.terminal.party_id}"
    rows = _ChainRows(
        # The terminal's yard entry that gives the line its release right (as the API needs).
        YardEntry(
            id=uuid.uuid4(),
            terminal_id=plan.terminal.party_id,
            container=plan.container,
            shipping_line_id=plan.line.party_id,
            state=YardState.in_yard,
            announced_by=terminal_actor,
            announced_at=now,
            updated_at=now,
        ),
        Release(
            id=plan.release_id,
            container=plan.container,
            terminal_id=plan.terminal.party_id,
            shipping_line_id=plan.line.party_id,
            first_party_id=plan.receivers[0].party_id,
            reference=_reference(plan),
            valid_until=datetime.fromtimestamp(valid_until, UTC),
            created_by=line_actor,
            created_at=now,
            updated_at=now,
        ),
    )
    rows.events.append(
        (
            "yard.announced",
            {
                "entry_id": str(rows.entry.id),
                "terminal": plan.terminal.party_id,
                "container": plan.container,
                "shipping_line": plan.line.party_id,
                "state": YardState.in_yard,
                "valid_until": None,
                "actor": terminal_actor,
            },
        )
    )
    for step in steps:
        ack = _ack(plan, step, now=stamp)
        assignment = step.kind == LinkKind.assignment
        acceptor = f"person:{step.to}" if assignment else f"client:{step.to}"
        link = Link(
            release_id=plan.release_id,
            seq=step.seq,
            kind=step.kind,
            from_party=step.sender.party_id,
            to=step.to,
            receiver_party=step.receiver_party,
            jws=step.jws,
            jws_hash=link_hash(step.jws),
            jti=step.jti,
            kid=step.sender.own.kid,
            iat=datetime.fromtimestamp(stamp, UTC),
            exp=datetime.fromtimestamp(stamp + LINK_LIFETIME_SECONDS, UTC),
            status=LinkStatus.accepted,
            ack=ack.jws,
            ack_jti=ack.jti,
            submitted_by=f"client:{step.sender.party_id}",
            decided_by=acceptor,
            created_at=now,
            decided_at=now,
        )
        rows.links.append(link)
        if step.seq == 0:
            created = {
                "release_id": str(plan.release_id),
                "container": plan.container,
                "terminal": plan.terminal.party_id,
                "shipping_line": plan.line.party_id,
                "release_to": plan.receivers[0].party_id,
                "valid_until": valid_until,
                "reference": _reference(plan),
                "link_hash": link.jws_hash,
                "actor": line_actor,
            }
            rows.events.append(("release.created", created))
        else:
            submitted = link_event(link, actor=link.submitted_by, party_id=step.sender.party_id)
            rows.events.append(("link.submitted", submitted))
        accepted = link_event(
            link, actor=acceptor, party_id=step.receiver_party, ack_hash=link_hash(ack.jws)
        )
        rows.events.append(("link.accepted", accepted))
    return rows


def _pickup(plan: ChainPlan) -> Pickup:
    return Pickup(
        release_id=str(plan.release_id),
        container=plan.container,
        terminal=plan.terminal.party_id,
        driver=str(plan.driver.person_id),
    )


async def write_chains(
    sessions: SessionFactory, plans: Sequence[ChainPlan], *, batch: int = 200
) -> list[Pickup]:
    """Write the releases with their accepted chains, `batch` releases per transaction."""
    for start in range(0, len(plans), batch):
        now = datetime.now(UTC).replace(microsecond=0)
        chains = [_chain_rows(plan, now=now) for plan in plans[start : start + batch]]
        async with transaction(sessions) as session:
            # Releases first: the links refer to them (the API flushes a release first too).
            session.add_all([chain.entry for chain in chains])
            session.add_all([chain.release for chain in chains])
            await session.flush()
            for chain in chains:
                session.add_all(chain.links)
                for event_type, event in chain.events:
                    await append(session, event_type, event)
    return [_pickup(plan) for plan in plans]


def _ok(response: httpx.Response, status: int, what: str) -> dict[str, Any]:
    if response.status_code != status:
        raise RuntimeError(f"{what}: {response.status_code} {response.text}")
    body: dict[str, Any] = response.json()
    return body


async def build_chain_via_api(
    client: httpx.AsyncClient,
    plan: ChainPlan,
    *,
    tokens: Mapping[str, str],
    driver_token: str,
) -> Pickup:
    """The same chain through the release service's API: pre-signed links and acks, and the
    driver accepting on his phone (his acknowledgement signed with his device key)."""

    def bearer(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    now = int(time.time())
    valid_until = _valid_until(now)
    steps = _signed_links(plan, now=now, valid_until=valid_until)
    base = f"/v1/releases/{plan.release_id}"
    # The terminal's system announces the container for the line first: a release needs it.
    entry = {"container": plan.container, "shipping_line": plan.line.party_id}
    terminal = bearer(tokens[plan.terminal.party_id])
    _ok(await client.post("/v1/yard/entries", json=entry, headers=terminal), 201, "yard entry")
    for step in steps:
        sender = bearer(tokens[step.sender.party_id])
        if step.seq == 0:
            body = {
                "container": plan.container,
                "terminal": plan.terminal.party_id,
                "release_to": step.to,
                "valid_until": datetime.fromtimestamp(valid_until, UTC).isoformat(),
                "reference": _reference(plan),
                "link": step.jws,
            }
            _ok(await client.post("/v1/releases", json=body, headers=sender), 201, "release")
        else:
            response = await client.post(f"{base}/links", json={"link": step.jws}, headers=sender)
            _ok(response, 201, f"link {step.seq}")
        accept = f"{base}/links/{step.seq}/accept"
        ack = _ack(plan, step, now=int(time.time()))
        # The driver accepts signed in on his phone; a party with its client.
        who = driver_token if step.kind == LinkKind.assignment else tokens[step.to]
        response = await client.post(accept, json={"ack": ack.jws}, headers=bearer(who))
        _ok(response, 200, f"accept {step.seq}")
    return _pickup(plan)
