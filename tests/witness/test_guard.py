"""The sequencer signs only a tree that extends the last checkpoint it signed."""

import json
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from services.registry import SERVICES
from shared.audit import repository as repo
from shared.audit.guard import LogGuard
from shared.audit.sequencer import Sequencer, drain, step
from shared.db import transaction
from tests.audit_helpers import append_events, parts, raw_sql, rewrite_history
from tests.conftest import SettingsFactory, running

AppAndClient = tuple[FastAPI, httpx.AsyncClient]


def sequencer_of(app: FastAPI) -> Sequencer:
    sequencer: Sequencer = app.state.sequencer
    return sequencer


async def sign(app: FastAPI) -> bool:
    """One guarded sequencer step that integrates everything and tries to sign."""
    sessions, log = parts(app)
    result = await step(
        sessions,
        signer=log.signer,
        origin=log.origin,
        batch_size=10_000,
        sign=True,
        guard=sequencer_of(app).guard,
    )
    return result.signed


async def latest_size(app: FastAPI) -> int | None:
    sessions, _ = parts(app)
    async with sessions() as session:
        latest = await repo.latest_checkpoint(session)
    return None if latest is None else latest.size


async def tamper(app: FastAPI, *statements: str) -> None:
    sessions, log = parts(app)
    async with transaction(sessions) as session:
        for statement in statements:
            await raw_sql(session, statement)
    log.cache.clear()


@pytest.fixture
async def signed_20(release_app: AppAndClient) -> FastAPI:
    app, _ = release_app
    await append_events(parts(app)[0], 20, per_transaction=20)
    assert await sign(app)
    assert sequencer_of(app).guard.trusted is not None
    return app


async def assert_refuses_from_now_on(app: FastAPI, client: httpx.AsyncClient, size: int) -> str:
    guard = sequencer_of(app).guard
    assert guard.alarm is not None
    assert await latest_size(app) != size or not await sign(app)
    await append_events(parts(app)[0], 2)
    assert not await sign(app)  # the alarm sticks
    ready = (await client.get("/readyz")).json()
    assert ready["status"] == "degraded"
    assert ready["checks"]["audit_log"] is False
    assert ready["audit_log"]["alarm"] == guard.alarm
    status = (await client.get("/v1/log/status")).json()
    assert status["signing"] is False and status["alarm"] == guard.alarm
    assert status["checkpoints_refused"] >= 2
    return guard.alarm


async def test_an_extension_is_signed(signed_20: FastAPI) -> None:
    await append_events(parts(signed_20)[0], 5)
    assert await sign(signed_20)
    assert await latest_size(signed_20) == 25
    assert sequencer_of(signed_20).guard.alarm is None


async def test_a_rewritten_history_is_not_signed(
    signed_20: FastAPI, release_app: AppAndClient
) -> None:
    # An insider changes event 3 and rebuilds the whole tree (signing it with the key, even).
    await rewrite_history(signed_20, index=3)
    await append_events(parts(signed_20)[0], 1)
    assert not await sign(signed_20)
    alarm = await assert_refuses_from_now_on(signed_20, release_app[1], 21)
    assert "rewrite" in alarm


async def test_a_database_rolled_back_is_not_signed(
    signed_20: FastAPI, release_app: AppAndClient
) -> None:
    # As a restore of an older backup would: the last five entries are gone.
    await tamper(
        signed_20,
        "DELETE FROM audit_tiles",
        "DELETE FROM audit_checkpoints",
        "DELETE FROM audit_tree",
        "DELETE FROM audit_events WHERE log_index >= 15",
        "UPDATE audit_events SET log_index = NULL",
    )
    sessions, _ = parts(signed_20)
    await append_events(sessions, 1)
    assert not await sign(signed_20)
    alarm = await assert_refuses_from_now_on(signed_20, release_app[1], 16)
    assert "rollback" in alarm


async def test_a_rewritten_tile_row_is_not_signed(
    signed_20: FastAPI, release_app: AppAndClient
) -> None:
    sessions, _ = parts(signed_20)
    async with sessions() as session:
        rows = await raw_sql(session, "SELECT hashes FROM audit_tiles WHERE level = 0")
    forged = b"\0" * 32 + bytes(rows[0][0])[32:]
    async with transaction(sessions) as session:
        await raw_sql(session, "UPDATE audit_tiles SET hashes = :h WHERE level = 0", h=forged)
    parts(signed_20)[1].cache.clear()
    await append_events(sessions, 1)
    assert not await sign(signed_20)
    await assert_refuses_from_now_on(signed_20, release_app[1], 21)


async def test_a_deleted_tile_row_raises_the_alarm(
    signed_20: FastAPI, release_app: AppAndClient
) -> None:
    await tamper(signed_20, "DELETE FROM audit_tiles")
    await append_events(parts(signed_20)[0], 1)
    with pytest.raises(LookupError):
        await sign(signed_20)
    assert "damaged" in (sequencer_of(signed_20).guard.alarm or "")
    await assert_refuses_from_now_on(signed_20, release_app[1], 20)


async def test_a_deleted_tree_state_row_is_not_signed(
    signed_20: FastAPI, release_app: AppAndClient
) -> None:
    await tamper(signed_20, "DELETE FROM audit_tree")
    assert not await sign(signed_20)
    alarm = await assert_refuses_from_now_on(signed_20, release_app[1], 0)
    assert "rollback" in alarm


async def test_the_state_file_outlives_the_process(
    make_settings: SettingsFactory, tmp_path: Path
) -> None:
    state = tmp_path / "guard" / "release-log.json"
    settings = make_settings("release", log_guard_state_file=str(state))
    app = SERVICES["release"].create_app(settings)
    async with running(app):
        await append_events(parts(app)[0], 8)
        assert await sign(app)
    saved = json.loads(state.read_text())
    assert saved["size"] == 8 and saved["origin"] == settings.log_origin
    # The database is rebuilt from scratch behind the service's back while it is stopped.
    app = SERVICES["release"].create_app(settings)
    async with running(app) as client:
        await rewrite_history(app, index=0)  # signs the fork without a guard, as an insider
        assert sequencer_of(app).guard.trusted is not None
        await append_events(parts(app)[0], 1)
        assert not await sign(app)
        assert (await client.get("/readyz")).json()["status"] == "degraded"


async def test_alarm_listeners_are_told_once(signed_20: FastAPI) -> None:
    told: list[str] = []

    async def listener(reason: str) -> None:
        told.append(reason)

    guard = sequencer_of(signed_20).guard
    guard.listeners.append(listener)
    await rewrite_history(signed_20, index=1)
    await append_events(parts(signed_20)[0], 1)
    assert not await sign(signed_20)
    assert not await sign(signed_20)
    await guard.settle()
    assert len(told) == 1 and "rewrite" in told[0]


def test_a_state_file_of_another_log_is_refused(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    state.write_text(json.dumps({"origin": "other", "size": 1, "root_hash": ""}))
    with pytest.raises(ValueError):
        LogGuard("ketenpas.localhost/release-log", state)


async def test_drain_without_a_guard_still_works(release_app: AppAndClient) -> None:
    app, _ = release_app
    sessions, log = parts(app)
    await append_events(sessions, 3)
    assert await drain(sessions, signer=log.signer, origin=log.origin) == 3


@pytest.mark.parametrize("service", ["release", "identity"])
async def test_the_alarm_is_a_critical_alert_for_port_security(
    make_settings: SettingsFactory, service: str
) -> None:
    app = SERVICES[service].create_app(make_settings(service))
    async with running(app):
        await append_events(parts(app)[0], 6)
        assert await sign(app)
        await rewrite_history(app, index=2)
        await append_events(parts(app)[0], 1)
        assert not await sign(app)
        assert not await sign(app)
        await sequencer_of(app).guard.settle()
        async with parts(app)[0]() as session:
            alerts = await raw_sql(session, "SELECT kind, severity, subject FROM alerts")
    assert alerts == [("audit_log_rewritten", "critical", app.state.audit_log.origin)]
