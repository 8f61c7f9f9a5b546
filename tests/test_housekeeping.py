"""Housekeeping: spent gate passes and used client assertions go once expired, live ones stay.

Both services run their chores on a schedule (a background task of the app, off in tests)
and on `ketenpas housekeeping purge`; a round is run here by calling its step directly.
"""

import asyncio
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from sqlmodel import SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.cli import app as cli
from services.identity.oauth import repository as oauth_repository
from services.identity.oauth.models import UsedAssertion
from services.registry import SERVICES
from services.release.gate.models import UsedGatePass
from services.release.gate.passes import spend_gate_pass
from shared.db import transaction
from shared.gatepass import CLOCK_SKEW_SECONDS, GatePass
from shared.housekeeping import Housekeeper
from shared.models import utcnow
from shared.problems import Conflict
from tests.conftest import SettingsFactory, running
from tests.helpers import invoke_cli

App = tuple[FastAPI, Any]
NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
PARTY = "EU.EORI.NL123456789"


async def add_rows(app: FastAPI, rows: list[SQLModel]) -> None:
    """Store `rows` in the app's database."""
    async with transaction(app.state.sessions) as session:
        session.add_all(rows)


async def jtis(app: FastAPI, model: type[UsedGatePass] | type[UsedAssertion]) -> set[str]:
    """The `jti`s left in a one-time-use table."""
    async with app.state.sessions() as session:
        return set((await session.exec(select(col(model.jti)))).all())


def used_gate_pass(jti: str, expires_at: datetime) -> UsedGatePass:
    """A spent gate pass that could be presented until `expires_at`."""
    return UsedGatePass(
        jti=jti,
        person_id=uuid.uuid4(),
        party_id=PARTY,
        used_at=expires_at - timedelta(minutes=2),
        expires_at=expires_at,
    )


def used_assertion(jti: str, expires_at: datetime) -> UsedAssertion:
    """A used client assertion that could be replayed until `expires_at`."""
    return UsedAssertion(party_id=PARTY, jti=jti, expires_at=expires_at)


def gate_pass(expires_at: datetime) -> GatePass:
    """A verified gate pass that expires at `expires_at`."""
    return GatePass(
        person_id=uuid.uuid4(),
        party_id=PARTY,
        amr=("pwd", "otp"),
        issued_at=int(expires_at.timestamp()) - 120,
        expires_at=int(expires_at.timestamp()),
        jti=str(uuid.uuid4()),
        screened_until=date(2027, 12, 31),
    )


async def test_expired_gate_passes_go_and_live_ones_stay(release_app: App) -> None:
    app, _ = release_app
    await add_rows(
        app,
        [
            used_gate_pass("expired-an-hour-ago", NOW - timedelta(hours=1)),
            used_gate_pass("expires-now", NOW),
            used_gate_pass("live", NOW + timedelta(minutes=2)),
        ],
    )

    assert await app.state.housekeeper.run_once(NOW) == {
        "used_gate_passes": 1,
        "webhook_outbox": 0,
    }
    assert await jtis(app, UsedGatePass) == {"expires-now", "live"}
    # A second round finds nothing more to do.
    assert await app.state.housekeeper.run_once(NOW) == {
        "used_gate_passes": 0,
        "webhook_outbox": 0,
    }


async def test_a_spent_gate_pass_stays_spent_as_long_as_it_could_be_presented(
    release_app: App,
) -> None:
    app, _ = release_app
    presented = gate_pass(NOW + timedelta(minutes=2))
    async with transaction(app.state.sessions) as session:
        await spend_gate_pass(session, gate_pass=presented, now=NOW)
    # Its row lives until the pass's expiry plus the clock skew the gate allows.
    last_presentable = NOW + timedelta(minutes=2, seconds=CLOCK_SKEW_SECONDS)

    await app.state.housekeeper.run_once(last_presentable)
    with pytest.raises(Conflict) as replay:
        async with transaction(app.state.sessions) as session:
            await spend_gate_pass(session, gate_pass=presented, now=last_presentable)
    assert replay.value.code == "gate_pass_replayed"

    await app.state.housekeeper.run_once(last_presentable + timedelta(seconds=2))
    assert await jtis(app, UsedGatePass) == set()


async def test_expired_client_assertions_go_and_live_ones_stay(identity_app: App) -> None:
    app, _ = identity_app
    await add_rows(
        app,
        [
            used_assertion("expired-a-minute-ago", NOW - timedelta(minutes=1)),
            used_assertion("expires-now", NOW),
            used_assertion("live", NOW + timedelta(seconds=30)),
        ],
    )

    assert await app.state.housekeeper.run_once(NOW) == {"used_assertions": 1}
    assert await jtis(app, UsedAssertion) == {"expires-now", "live"}
    assert await app.state.housekeeper.run_once(NOW) == {"used_assertions": 0}


async def test_a_used_assertion_stays_used_as_long_as_it_could_be_replayed(
    identity_app: App,
) -> None:
    app, _ = identity_app
    expires_at = NOW + timedelta(seconds=30)

    async def record() -> bool:
        async with transaction(app.state.sessions) as session:
            return await oauth_repository.record_assertion(
                session, party_id=PARTY, jti="assertion-1", expires_at=expires_at
            )

    assert await record()
    await app.state.housekeeper.run_once(expires_at)
    assert not await record(), "a replay inside the assertion's lifetime must stay refused"

    await app.state.housekeeper.run_once(expires_at + timedelta(seconds=1))
    assert await jtis(app, UsedAssertion) == set()
    assert await record()


@pytest.mark.parametrize(
    ("service", "chores"),
    [("identity", ["used_assertions"]), ("release", ["used_gate_passes", "webhook_outbox"])],
)
async def test_the_app_schedules_housekeeping_only_when_asked(
    make_settings: SettingsFactory, service: str, chores: list[str]
) -> None:
    spec = SERVICES[service]
    # Off in tests by default (tests/conftest.py), as 0 turns it off anywhere.
    quiet = spec.create_app(make_settings(service))
    async with running(quiet):
        assert quiet.state.housekeeping_task is None
        assert list(quiet.state.housekeeper.chores) == chores

    scheduled = spec.create_app(make_settings(service, housekeeping_interval_seconds=600))
    async with running(scheduled):
        task = scheduled.state.housekeeping_task
        assert isinstance(task, asyncio.Task)
        assert not task.done()
        assert scheduled.state.housekeeper.interval == 600
    assert task.cancelled(), "the task ends with the app"


async def test_each_round_waits_an_interval_and_a_failed_round_does_not_stop_the_task(
    release_app: App,
) -> None:
    app, _ = release_app
    await add_rows(app, [used_gate_pass("expired", utcnow() - timedelta(hours=1))])
    waits: list[float] = []
    calls: list[str] = []

    async def wait(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) == 3:
            raise asyncio.CancelledError  # what stopping the app does to the sleeping task

    async def flaky(*, session: AsyncSession, now: datetime) -> int:
        calls.append("flaky")
        if len(calls) == 1:
            raise OSError("the database went away")
        return 0

    housekeeper = Housekeeper(
        app.state.sessions,
        {"flaky": flaky, "used_gate_passes": app.state.housekeeper.chores["used_gate_passes"]},
        interval=300,
        wait=wait,
    )
    with pytest.raises(asyncio.CancelledError):
        await housekeeper.run()

    assert waits == [300, 300, 300]
    assert calls == ["flaky", "flaky"]
    # The first round failed before the gate passes; the second deleted them.
    assert await jtis(app, UsedGatePass) == set()


async def test_the_cli_purges_both_services_once(
    identity_app: App,
    release_app: App,
    make_settings: SettingsFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for service in SERVICES:
        settings = make_settings(service)
        prefix = f"KETENPAS_{service.upper()}_"
        monkeypatch.setenv(prefix + "DATABASE_URL", settings.database_url)
        if settings.database_schema:
            monkeypatch.setenv(prefix + "DATABASE_SCHEMA", settings.database_schema)
    now = utcnow()
    await add_rows(
        identity_app[0],
        [
            used_assertion("old", now - timedelta(hours=1)),
            used_assertion("live", now + timedelta(hours=1)),
        ],
    )
    await add_rows(
        release_app[0],
        [
            used_gate_pass("old", now - timedelta(hours=1)),
            used_gate_pass("live", now + timedelta(hours=1)),
        ],
    )

    result = await invoke_cli(cli, ["housekeeping", "purge"])

    assert result.exit_code == 0, result.output
    assert "identity: used_assertions: 1 deleted" in result.output
    assert "release: used_gate_passes: 1 deleted" in result.output
    assert await jtis(identity_app[0], UsedAssertion) == {"live"}
    assert await jtis(release_app[0], UsedGatePass) == {"live"}
