"""Threat: a database administrator rolls the audit log back or rewrites it, and the service
goes on signing checkpoints over the altered tree with its own key.

A restore of an older backup erases the events of the last hours; a rebuilt tree hides an
edited event. Both would be signed as the log's history if the sequencer signed whatever the
database holds. The sequencer proves each new tree extends the last checkpoint it signed
(kept in memory and in a file outside the database): on a mismatch it signs nothing more,
port security gets a critical alert, and /readyz says why.
"""

from pathlib import Path

from services.registry import SERVICES
from shared.audit import repository as repo
from shared.audit.sequencer import Sequencer, step
from shared.db import transaction
from shared.tlog import tiles
from tests.audit_helpers import append_events, parts, raw_sql
from tests.conftest import SettingsFactory, running


async def guarded_step(sequencer: Sequencer, app: object) -> bool:
    sessions, log = parts(app)  # type: ignore[arg-type]
    result = await step(
        sessions,
        signer=log.signer,
        origin=log.origin,
        batch_size=1000,
        sign=True,
        guard=sequencer.guard,
    )
    return result.signed


async def test_a_restored_backup_is_not_signed_even_after_a_restart(
    make_settings: SettingsFactory, tmp_path: Path
) -> None:
    settings = make_settings("release", log_guard_state_file=str(tmp_path / "guard.json"))
    app = SERVICES["release"].create_app(settings)
    async with running(app):
        sessions, _ = parts(app)
        await append_events(sessions, 30)
        assert await guarded_step(app.state.sequencer, app)
    # While the service is down, the database goes back to the state of 18 events.
    app = SERVICES["release"].create_app(settings)
    async with running(app) as client:
        sessions, log = parts(app)
        async with transaction(sessions) as session:
            for statement in (
                "DELETE FROM audit_tiles",
                "DELETE FROM audit_checkpoints",
                "DELETE FROM audit_tree",
                "DELETE FROM audit_events WHERE log_index >= 18",
                "UPDATE audit_events SET log_index = NULL",
            ):
                await raw_sql(session, statement)
        log.cache.clear()
        await append_events(sessions, 2)
        assert not await guarded_step(app.state.sequencer, app)
        async with sessions() as session:
            assert await repo.latest_checkpoint(session) is None  # nothing signed
        await app.state.sequencer.guard.settle()
        ready = (await client.get("/readyz")).json()
        assert ready["status"] == "degraded"
        assert "rollback" in ready["audit_log"]["alarm"]
        async with sessions() as session:
            alerts = await raw_sql(session, "SELECT kind, severity FROM alerts")
        assert alerts == [("audit_log_rewritten", "critical")]


async def test_an_edited_tile_is_not_signed(make_settings: SettingsFactory) -> None:
    app = SERVICES["release"].create_app(make_settings("release"))
    async with running(app):
        sessions, log = parts(app)
        await append_events(sessions, 300)
        assert await guarded_step(app.state.sequencer, app)
        # The first full tile of leaf hashes, one hash swapped for another entry's.
        async with transaction(sessions) as session:
            [(hashes,)] = await raw_sql(
                session, "SELECT hashes FROM audit_tiles WHERE level = 0 AND tile_index = 0"
            )
            edited = bytes(hashes)[32:64] + bytes(hashes)[32:]
            await raw_sql(
                session,
                "UPDATE audit_tiles SET hashes = :h WHERE level = 0 AND tile_index = 0",
                h=edited,
            )
            # ... and the level-1 tile recomputed to match, as a careful administrator would.
            level_one = tiles.subtree_hash(tiles.split_hash_tile(edited))
            await raw_sql(
                session,
                "UPDATE audit_tiles SET hashes = :h WHERE level = 1 AND tile_index = 0",
                h=level_one,
            )
        log.cache.clear()
        await append_events(sessions, 1)
        assert not await guarded_step(app.state.sequencer, app)
        assert "rewrite" in (app.state.sequencer.guard.alarm or "")
