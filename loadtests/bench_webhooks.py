"""The webhook side of the gate benchmark (`bench_gate --subscribers 50 --silent-subscribers
10`, issue 15): subscribers of gate decisions and gate-outs, made through the real API, and
what they got.

Who is subscribed: the parties the fan-out tells of these two event types
(`services/release/webhooks/events.py` and `fanout.py`): `gate.decided` goes to the
release's terminal only, `gate.completed` to the parties that may read the release as
readers (its terminal, its shipping line, the forwarders and carriers of its chain); customs
and port security, who read every release as overseers, are told of neither. So the
subscriptions are spread in turn over the port's terminals (both types), shipping lines,
forwarders and carriers (`gate.completed`), every `total // silent`-th one pointed at a
silent receiver (`loadtests/webhook_receivers.py`), the others at answering ones.

How they are made: each subscribing party gets an admin person (written into the identity
database before the service starts, as `gate_setup.seed_port` writes drivers), who signs in
(`POST /v1/sessions`, password and TOTP) and subscribes with `POST /v1/subscriptions`: a
party's admin may manage its subscriptions. (A party's API client needs the scope
`subscriptions:manage`, which `POST /v1/token` does not grant today.)

What is counted, from the release database at the end of the step and again once the
answering subscribers' deliveries are done (or a bounded wait runs out): deliveries made,
delivered, pending (of which tried and failed at least once) and given up, for the answering
and the silent subscriptions apart; subscriptions `failing`; outbox events not fanned out
yet. The receivers give the lag from the change (the CloudEvent's `time`) to its arrival.
"""

import asyncio
import itertools
import math
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx
import pyotp
from sqlalchemy import text

from loadtests import gate_setup, webhook_receivers
from loadtests.harness import log
from services.identity.demo import enrolled_person
from services.identity.settings import IdentitySettings
from services.release.settings import ReleaseSettings
from services.release.webhooks.events import GATE_DECIDED, GATE_OUT
from services.release.webhooks.models import Delivery, OutboxEvent, Subscription
from services.release.webhooks.service import MAX_SUBSCRIPTIONS
from shared.db import create_engine, session_factory, transaction

ACTOR = "bench-webhooks-seed"
# How long to wait for the outbox to be fanned out before subscribing (so that no event of
# the reference step reaches the new subscribers).
QUIET_OUTBOX_SECONDS = 60.0
TIMELINE_SECONDS = 5.0  # the window of the answering receipts' timeline


def wanted_types(role: str) -> list[str]:
    """The gate's event types a party in this role is told of."""
    if role == "terminal":
        return [GATE_DECIDED.type, GATE_OUT.type]
    return [GATE_OUT.type]


@dataclass(frozen=True)
class Planned:
    """One subscription to make: whose, and whether its receiver answers."""

    party_id: str
    role: str
    silent: bool


def spread(parties: Sequence[tuple[str, str]], total: int, silent: int) -> list[Planned]:
    """`total` subscriptions over (party id, role) in turn; every `total // silent`-th silent
    (the last of each run), so the silent ones fall on several parties and roles."""
    if not parties:
        raise ValueError("no party to subscribe")
    if not 0 <= silent <= total:
        raise ValueError("silent subscriptions must be between 0 and the total")
    if math.ceil(total / len(parties)) > MAX_SUBSCRIPTIONS:
        raise ValueError(f"more than {MAX_SUBSCRIPTIONS} subscriptions for one party")
    every = total // silent if silent else 0
    planned = []
    for n in range(total):
        party_id, role = parties[n % len(parties)]
        quiet = bool(every) and n % every == every - 1 and n // every < silent
        planned.append(Planned(party_id, role, quiet))
    return planned


def told_parties(port: gate_setup.Port) -> list[tuple[str, str]]:
    """The parties told of gate decisions or gate-outs, with their role."""
    members = itertools.chain(port.terminals, port.shipping_lines, port.forwarders, port.carriers)
    return [(member.party_id, member.role) for member in members]


@dataclass(frozen=True)
class Admin:
    """A party's admin person, who manages its subscriptions."""

    party_id: str
    username: str
    password: str
    totp_secret: str


async def seed_admins(settings: IdentitySettings, party_ids: Sequence[str]) -> dict[str, Admin]:
    """An admin person (password and confirmed TOTP) for each party, in the identity database."""
    engine = create_engine(settings.database_url, schema=settings.database_schema)
    sessions = session_factory(engine)
    admins = {}
    try:
        async with transaction(sessions) as session:
            now = datetime.now(UTC)
            for party_id in party_ids:
                username = f"bench.{party_id[-6:]}.admin"
                _, password, secret = await enrolled_person(
                    session,
                    settings,
                    party_id=party_id,
                    role="admin",
                    name=f"Bench admin of {party_id}",
                    username=username,
                    now=now,
                )
                admins[party_id] = Admin(party_id, username, password, secret)
        await gate_setup.drain_log(settings, sessions)
    finally:
        await engine.dispose()
    return admins


@dataclass(frozen=True)
class Made:
    """A subscription made through the API, and its receiver."""

    id: str
    party_id: str
    receiver: webhook_receivers.Receiver


@dataclass(frozen=True)
class Counts:
    """Deliveries of one group of subscriptions, from the release database."""

    made: int = 0
    delivered: int = 0
    pending: int = 0
    retrying: int = 0  # pending, tried and failed at least once
    given_up: int = 0


@dataclass(frozen=True)
class Snapshot:
    """Deliveries of the answering and the silent subscriptions, at one moment."""

    at: float  # wall clock
    answering: Counts
    silent: Counts
    failing: int  # subscriptions marked failing
    unfanned: int  # outbox events not fanned out yet


@dataclass
class WebhookFigures:
    """What the subscribers of one step got."""

    subscriptions: int
    silent_subscriptions: int
    events: int = 0  # outbox events written during the step
    started: float = 0.0  # wall clock
    ended: float = 0.0
    end_of_step: Snapshot | None = None
    settled: Snapshot | None = None
    settle_seconds: float = 0.0
    lags: list[float] = field(default_factory=list)  # answering receipts, seconds
    lags_in_step: list[float] = field(default_factory=list)  # received before the step ended
    receipt_times: list[float] = field(default_factory=list)  # answering receipts, wall clock
    silent_requests: int = 0
    silent_most_open: int = 0  # at one silent receiver
    bad_requests: int = 0
    receivers_cpu: float = 0.0  # the benchmark's own process during the step, share of a core


async def sign_in(client: httpx.AsyncClient, admin: Admin) -> str:
    """The admin's person token from `POST /v1/sessions` (password and a current TOTP code)."""
    body = {
        "username": admin.username,
        "password": admin.password,
        "otp": pyotp.TOTP(admin.totp_secret).now(),
    }
    response = await client.post("/v1/sessions", json=body)
    if response.status_code != 200:
        raise RuntimeError(f"sign-in of {admin.username}: {response.status_code} {response.text}")
    token: str = response.json()["access_token"]
    return token


@dataclass
class Subscribers:
    """The subscriptions of one subscribed step, their receivers, and the release database."""

    release_url: str
    identity_url: str
    settings: ReleaseSettings
    admins: dict[str, Admin]
    planned: list[Planned]
    receivers: webhook_receivers.Receivers | None = None
    made: list[Made] = field(default_factory=list)
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def silent_ids(self) -> set[str]:
        """The subscriptions whose receiver never answers."""
        return {m.id for m in self.made if m.receiver.silent}

    async def subscribe(self) -> None:
        """Start the receivers, sign the admins in and subscribe through the API."""
        await wait_outbox_fanned_out(self.settings, QUIET_OUTBOX_SECONDS)
        silent = sum(p.silent for p in self.planned)
        self.receivers = await webhook_receivers.Receivers.started(
            len(self.planned) - silent, silent
        )
        free = {False: iter(self.receivers.answering), True: iter(self.receivers.silent)}
        async with httpx.AsyncClient(base_url=self.identity_url, timeout=30) as identity:
            for party_id in sorted({p.party_id for p in self.planned}):
                self.tokens[party_id] = await sign_in(identity, self.admins[party_id])
        async with httpx.AsyncClient(base_url=self.release_url, timeout=30) as release:
            for plan in self.planned:
                receiver = next(free[plan.silent])
                answer = await release.post(
                    "/v1/subscriptions",
                    json={"url": receiver.url, "event_types": wanted_types(plan.role)},
                    headers={"Authorization": f"Bearer {self.tokens[plan.party_id]}"},
                )
                if answer.status_code != 201:
                    raise RuntimeError(f"subscribing: {answer.status_code} {answer.text}")
                self.made.append(Made(str(answer.json()["id"]), plan.party_id, receiver))
        log(f"{len(self.made)} subscriptions made through the API ({silent} silent)")

    async def unsubscribe(self) -> None:
        """Delete the subscriptions through the API, then stop the receivers."""
        try:
            async with httpx.AsyncClient(base_url=self.release_url, timeout=30) as release:
                for made in self.made:
                    answer = await release.delete(
                        f"/v1/subscriptions/{made.id}",
                        headers={"Authorization": f"Bearer {self.tokens[made.party_id]}"},
                    )
                    if answer.status_code != 204:
                        log(f"unsubscribing: {answer.status_code} {answer.text}")
        finally:
            if self.receivers is not None:
                await self.receivers.stop()

    async def snapshot(self) -> Snapshot:
        """Deliveries by group and state, failing subscriptions, the outbox's backlog."""
        engine = create_engine(self.settings.database_url, schema=self.settings.database_schema)
        ids = {m.id for m in self.made}
        silent = self.silent_ids
        groups: dict[bool, dict[str, int]] = {
            False: dict.fromkeys(("made", "delivered", "pending", "retrying", "given_up"), 0),
            True: dict.fromkeys(("made", "delivered", "pending", "retrying", "given_up"), 0),
        }
        try:
            async with engine.connect() as connection:
                rows = await connection.execute(
                    text(
                        f"SELECT subscription_id, status, attempts > 0, count(*) "
                        f"FROM {Delivery.__tablename__} "
                        "GROUP BY subscription_id, status, attempts > 0"
                    )
                )
                for subscription_id, status, tried, count in rows.all():
                    key = str(uuid.UUID(str(subscription_id)))
                    if key not in ids:
                        continue
                    group = groups[key in silent]
                    group["made"] += int(count)
                    if status == "delivered":
                        group["delivered"] += int(count)
                    elif status == "failed":
                        group["given_up"] += int(count)
                    else:
                        group["pending"] += int(count)
                        if tried:
                            group["retrying"] += int(count)
                failing_rows = await connection.execute(
                    text(f"SELECT id FROM {Subscription.__tablename__} WHERE status = 'failing'")
                )
                failing = sum(str(uuid.UUID(str(row[0]))) in ids for row in failing_rows.all())
                unfanned = await connection.scalar(
                    text(
                        f"SELECT count(*) FROM {OutboxEvent.__tablename__} "
                        "WHERE fanned_out_at IS NULL"
                    )
                )
        finally:
            await engine.dispose()
        return Snapshot(
            at=time.time(),
            answering=Counts(**groups[False]),
            silent=Counts(**groups[True]),
            failing=failing,
            unfanned=int(unfanned or 0),
        )

    async def settle(self, seconds: float) -> Snapshot:
        """Wait (at most `seconds`) until the outbox is fanned out and the answering
        subscriptions have nothing pending; the state then."""
        deadline = time.monotonic() + seconds
        while True:
            state = await self.snapshot()
            if (state.unfanned == 0 and state.answering.pending == 0) or (
                time.monotonic() >= deadline
            ):
                return state
            await asyncio.sleep(1.0)  # polling the database for a backlog to drain

    def figures(self, figures: WebhookFigures) -> None:
        """Fill in what the receivers saw."""
        assert self.receivers is not None
        receipts = self.receivers.receipts()
        figures.lags = [receipt.lag for receipt in receipts]
        figures.lags_in_step = [r.lag for r in receipts if r.received_at <= figures.ended]
        figures.receipt_times = [receipt.received_at for receipt in receipts]
        figures.silent_requests = self.receivers.silent_requests()
        figures.silent_most_open = self.receivers.silent_most_open()
        figures.bad_requests = self.receivers.bad()


async def outbox_events(settings: ReleaseSettings) -> int:
    """Outbox events written so far."""
    engine = create_engine(settings.database_url, schema=settings.database_schema)
    try:
        async with engine.connect() as connection:
            count = await connection.scalar(
                text(f"SELECT count(*) FROM {OutboxEvent.__tablename__}")
            )
    finally:
        await engine.dispose()
    return int(count or 0)


async def wait_outbox_fanned_out(settings: ReleaseSettings, seconds: float) -> None:
    """Wait (at most `seconds`) until every outbox event is fanned out."""
    deadline = time.monotonic() + seconds
    engine = create_engine(settings.database_url, schema=settings.database_schema)
    try:
        while time.monotonic() < deadline:
            async with engine.connect() as connection:
                backlog = await connection.scalar(
                    text(
                        f"SELECT count(*) FROM {OutboxEvent.__tablename__} "
                        "WHERE fanned_out_at IS NULL"
                    )
                )
            if not backlog:
                return
            await asyncio.sleep(1.0)  # polling the database for the dispatcher to catch up
        log(f"the outbox still held {backlog} events not fanned out after {seconds:g} s")
    finally:
        await engine.dispose()


def _ms(seconds: float) -> str:
    return "-" if math.isnan(seconds) else f"{seconds * 1000:,.0f}"


def _counts(counts: Counts) -> str:
    return (
        f"{counts.made} made, {counts.delivered} delivered, {counts.pending} pending "
        f"({counts.retrying} after a failed try), {counts.given_up} given up"
    )


def report_lines(figures: WebhookFigures) -> list[str]:
    """The subscribers' figures of one step, as printed under its line."""
    lines = [
        f"webhooks: {figures.subscriptions} subscriptions, {figures.silent_subscriptions} "
        f"silent; {figures.events} outbox events written in the step; receivers' process CPU "
        f"{figures.receivers_cpu * 100:.0f}%"
    ]
    for label, state in (
        ("at the end of the step", figures.end_of_step),
        (f"after {figures.settle_seconds:.0f} s more", figures.settled),
    ):
        if state is None:
            continue
        lines.append(
            f"  {label}: answering: {_counts(state.answering)}; silent: {_counts(state.silent)}; "
            f"{state.failing} subscriptions failing; {state.unfanned} outbox events not fanned out"
        )
    lag, in_step = figures.lags, figures.lags_in_step
    lines.append(
        f"  lag, change -> answering receiver: in the step p50 {_ms(_q(in_step, 0.5))} / "
        f"p99 {_ms(_q(in_step, 0.99))} / max {_ms(_q(in_step, 1.0))} ms over {len(in_step)}; "
        f"all p50 {_ms(_q(lag, 0.5))} / p99 {_ms(_q(lag, 0.99))} / max {_ms(_q(lag, 1.0))} ms "
        f"over {len(lag)}"
    )
    lines.append(
        f"  answering receipts per {TIMELINE_SECONDS:g} s from the step's start: "
        + timeline(figures)
    )
    lines.append(
        f"  silent receivers: {figures.silent_requests} requests read, none answered, at most "
        f"{figures.silent_most_open} held open at once by one receiver; "
        f"{figures.bad_requests} malformed requests"
    )
    return lines


def timeline(figures: WebhookFigures) -> str:
    """Answering receipts in each window from the step's start (a stall shows as zeros)."""
    counts: dict[int, int] = {}
    for at in figures.receipt_times:
        window = int((at - figures.started) // TIMELINE_SECONDS)
        counts[window] = counts.get(window, 0) + 1
    if not counts:
        return "none"
    return " ".join(str(counts.get(n, 0)) for n in range(max(0, min(counts)), max(counts) + 1))


def _q(values: Sequence[float], q: float) -> float:
    return webhook_receivers.quantile(values, q)
