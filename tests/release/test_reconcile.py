"""The reconciliation: the signed audit log replayed against holds, release statuses and
gate-outs (docs/reconcile.md). A port used as the API allows agrees with its log; a change
behind the service's back is named by table and key and alerted once; events not yet under a
signed checkpoint are pending, not a false alarm; the command line says so by its exit code."""

import asyncio
import json
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import delete, update
from sqlmodel import col, select

from services import cli
from services.registry import SERVICES
from services.release.reconcile import repository
from services.release.reconcile.replay import Replay
from services.release.reconcile.schedule import Reconciler
from services.release.reconcile.service import reconcile_lock, run
from services.release.releases.models import Release, ReleaseStatus
from services.release.releases.service import effective_status
from shared.audit.models import AuditEvent
from shared.audit.repository import count_events
from shared.audit.sequencer import step
from shared.db import transaction
from shared.models import utcnow
from tests.audit_helpers import integrate_all
from tests.conftest import SettingsFactory, running
from tests.helpers import invoke_cli
from tests.release.access_logs import add_rows, dba, ids, row, seal
from tests.release.chains import create_release, ok
from tests.release.port import Port, audit_types
from tests.release.reconciliation import (
    delete_hold,
    differences,
    mismatch_alerts,
    picked_up,
    place_hold,
    ready_chain,
    reconcile,
)


async def completed_events(port: Port) -> list[dict[str, object]]:
    """The `reconcile.completed` events, oldest first."""
    async with transaction(port.release.state.sessions) as session:
        rows = await session.exec(
            select(AuditEvent.event)
            .where(col(AuditEvent.event_type) == "reconcile.completed")
            .order_by(col(AuditEvent.id))
        )
        return [json.loads(text) for text in rows.all()]


async def test_a_port_used_through_the_api_agrees_with_its_log(port: Port) -> None:
    gone = await picked_up(port)
    held = await ready_chain(port)
    await place_hold(port, held, "customs")
    await place_hold(port, held, "terminal")
    lifted = await create_release(port)
    await place_hold(port, lifted, "terminal")
    ok(
        await port.client.delete(
            f"/v1/releases/{lifted.release_id}/holds/terminal", headers=port["terminal"].headers
        )
    )
    cancelled = await create_release(port)
    ok(
        await port.client.post(
            f"/v1/releases/{cancelled.release_id}/cancel", headers=port["line"].headers
        )
    )
    await integrate_all(port.release)

    outcome = await reconcile(port)

    assert differences(outcome) == []
    assert outcome.alert_id is None
    report = outcome.report
    assert report.releases == 4 and report.pending_events == 0
    assert report.signed_size > 0 and report.root is not None
    assert gone.release_id not in report.pending_releases
    assert await mismatch_alerts(port) == []
    [completed] = await completed_events(port)
    assert completed["digest"] is None and completed["differences"] == 0
    assert completed["releases"] == 4 and completed["actor"] == "service:reconcile"


async def test_a_release_whose_events_are_not_yet_signed_is_pending_not_a_mismatch(
    port: Port,
) -> None:
    await integrate_all(port.release)
    chain = await ready_chain(port)
    await place_hold(port, chain, "customs")

    outcome = await reconcile(port)

    assert differences(outcome) == []
    assert outcome.report.pending_events > 0
    assert chain.release_id in outcome.report.pending_releases
    assert await mismatch_alerts(port) == []


async def test_a_difference_the_pending_events_do_not_explain_is_still_a_mismatch(
    port: Port,
) -> None:
    chain = await ready_chain(port)
    await place_hold(port, chain, "customs")
    await delete_hold(port, chain.release_id, "customs")  # nothing signed yet: all pending

    outcome = await reconcile(port)

    assert differences(outcome) == [
        {
            "table": "release_holds",
            "key": {"release_id": str(chain.release_id), "kind": "customs"},
            "problem": "missing",
        }
    ]


async def test_an_unchanged_mismatch_is_alerted_once_and_a_new_one_again(port: Port) -> None:
    first = await ready_chain(port)
    second = await ready_chain(port)
    for chain in (first, second):
        await place_hold(port, chain, "customs")
    await integrate_all(port.release)
    await delete_hold(port, first.release_id, "customs")

    raised = await reconcile(port)
    again = await reconcile(port)
    await delete_hold(port, second.release_id, "customs")
    grown = await reconcile(port)

    assert raised.alert_id is not None and again.alert_id is None
    assert grown.alert_id is not None and grown.alert_id != raised.alert_id
    assert raised.report.digest == again.report.digest != grown.report.digest
    alerts = await mismatch_alerts(port)
    assert [alert.id for alert in alerts] == [raised.alert_id, grown.alert_id]
    assert [alert.facts["count"] for alert in alerts] == [1, 2]
    digests = [event["digest"] for event in await completed_events(port)]
    assert digests == [raised.report.digest, raised.report.digest, grown.report.digest]


async def test_the_same_mismatch_after_a_clean_run_is_alerted_again(port: Port) -> None:
    chain = await ready_chain(port)
    await place_hold(port, chain, "customs")
    await integrate_all(port.release)
    await delete_hold(port, chain.release_id, "customs")
    first = await reconcile(port)
    # The administrator puts the row back; later he deletes it again.
    await place_hold(port, chain, "customs")  # logged: the log now holds two placements
    clean = await reconcile(port)
    await delete_hold(port, chain.release_id, "customs")
    second = await reconcile(port)

    assert first.alert_id is not None and clean.alert_id is None
    assert differences(clean) == []
    assert second.alert_id is not None and second.alert_id != first.alert_id


async def test_a_changed_validity_is_a_field_that_differs(port: Port) -> None:
    chain = await create_release(port)
    await integrate_all(port.release)
    async with transaction(port.release.state.sessions) as session:
        stored = await session.get(Release, chain.release_id)
        assert stored is not None
        logged = int(stored.valid_until.timestamp())
        await session.exec(
            update(Release)
            .where(col(Release.id) == chain.release_id)
            .values(valid_until=stored.valid_until + timedelta(days=20))
        )

    outcome = await reconcile(port)

    assert differences(outcome) == [
        {
            "table": "releases",
            "key": {"id": str(chain.release_id)},
            "problem": "differs",
            "log": {"valid_until": logged},
            "stored": {"valid_until": logged + 20 * 86400},
        }
    ]


def test_a_release_past_its_validity_without_an_event_stays_open_in_the_replay() -> None:
    release_id = uuid.uuid4()
    replay = Replay()
    now = utcnow()
    replay.apply(
        {
            "type": "release.created",
            "release_id": str(release_id),
            "container": "KPTU1000007",
            "terminal": "EU.EORI.NL1",
            "shipping_line": "EU.EORI.NL2",
            "release_to": "EU.EORI.NL3",
            "valid_until": int((now - timedelta(days=1)).timestamp()),
        }
    )
    # Shown expired, stored open (releases.service.effective_status): the replay keeps the
    # stored status, so a row still `open` past its validity agrees with the log.
    assert replay.releases[release_id].status == ReleaseStatus.open
    replay.apply({"type": "release.expired", "release_id": str(release_id)})
    assert replay.releases[release_id].status == ReleaseStatus.expired


async def test_a_release_shown_expired_by_time_is_no_difference(port: Port) -> None:
    chain = await create_release(port)
    await integrate_all(port.release)
    async with transaction(port.release.state.sessions) as session:
        stored = await session.get(Release, chain.release_id)
        assert stored is not None
        later = stored.valid_until + timedelta(seconds=1)
        assert effective_status(stored, later) == ReleaseStatus.expired
    assert differences(await reconcile(port)) == []


async def test_an_altered_or_deleted_event_under_the_checkpoint_is_named(port: Port) -> None:
    chain = await ready_chain(port)
    await place_hold(port, chain, "customs")
    await integrate_all(port.release)
    async with transaction(port.release.state.sessions) as session:
        placed = (
            await session.exec(
                select(AuditEvent).where(col(AuditEvent.event_type) == "hold.placed")
            )
        ).one()
        placed.event = placed.event.replace('"kind":"customs"', '"kind":"terminal"')
        session.add(placed)
    index = placed.log_index

    found = differences(await reconcile(port))

    # The altered event is not trusted: the hold it stood for is a row the log does not know.
    assert {"table": "audit_events", "key": {"log_index": index}, "problem": "altered"} in found
    assert {
        "table": "release_holds",
        "key": {"release_id": str(chain.release_id), "kind": "customs"},
        "problem": "unknown",
    } in found
    async with transaction(port.release.state.sessions) as session:
        await session.delete(placed)
    found = differences(await reconcile(port))
    assert {"table": "audit_events", "key": {"log_index": index}, "problem": "missing"} in found


async def test_the_command_exits_0_when_the_tables_agree_and_1_naming_the_rows_when_not(
    port: Port, make_settings: SettingsFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = make_settings("release")
    monkeypatch.setenv("KETENPAS_RELEASE_DATABASE_URL", settings.database_url)
    if settings.database_schema:
        monkeypatch.setenv("KETENPAS_RELEASE_DATABASE_SCHEMA", settings.database_schema)
    chain = await ready_chain(port)
    await place_hold(port, chain, "customs")
    await integrate_all(port.release)

    agree = await invoke_cli(cli.app, ["reconcile"])
    assert agree.exit_code == 0, agree.output
    assert "OK: the tables agree with the audit log" in agree.output

    await delete_hold(port, chain.release_id, "customs")
    differ = await invoke_cli(cli.app, ["reconcile"])
    assert differ.exit_code == 1, differ.output
    assert f"release_holds (release_id={chain.release_id}, kind=customs): missing" in differ.output
    assert "critical alert" in differ.output
    repeat = await invoke_cli(cli.app, ["reconcile"])
    assert repeat.exit_code == 1 and "already alerted" in repeat.output
    assert len(await mismatch_alerts(port)) == 1
    actors = [event["actor"] for event in await completed_events(port)]
    assert len(actors) == 3 and all(str(actor).startswith("cli:") for actor in actors)
    assert "reconcile.completed" in await audit_types(port.release)


async def test_the_command_exits_2_when_it_cannot_reach_the_database(
    monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    monkeypatch.setenv("KETENPAS_RELEASE_DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    result = await invoke_cli(cli.app, ["reconcile"])
    assert result.exit_code == 2, result.output


async def test_the_service_reconciles_every_interval_as_itself(port: Port) -> None:
    waited: list[float] = []

    async def wait(seconds: float) -> None:
        waited.append(seconds)
        if len(waited) > 1:
            raise asyncio.CancelledError

    state = port.release.state
    reconciler = Reconciler(
        state.read_sessions, state.sessions, state.audit_log, interval=900, wait=wait
    )
    with pytest.raises(asyncio.CancelledError):
        await reconciler.run()

    assert waited == [900, 900]
    [completed] = await completed_events(port)
    assert completed["actor"] == "service:reconcile"
    # The tests' services run no background work (`run_sequencer` off): nor this.
    assert state.reconcile_task is None


async def test_the_process_of_the_sequencer_reconciles_in_the_background(
    make_settings: SettingsFactory,
) -> None:
    app = SERVICES["release"].create_app(make_settings("release", run_sequencer=True))
    async with running(app):
        assert app.state.reconcile_task is not None


async def test_an_interval_of_0_runs_no_background_reconciliation(
    make_settings: SettingsFactory,
) -> None:
    app = SERVICES["release"].create_app(
        make_settings("release", reconcile_interval_seconds=0, run_sequencer=True)
    )
    async with running(app):
        assert app.state.reconcile_task is None
        assert await app.state.reconciler.run_once() is not None  # on demand it still runs


@pytest.mark.postgres
async def test_a_second_process_skips_the_round_another_is_running(port: Port) -> None:
    state = port.release.state
    async with state.read_sessions() as other, other.begin():
        await repository.begin_snapshot(other)
        assert await repository.try_lock(other, reconcile_lock(state.audit_log))
        assert await state.reconciler.run_once() is None
    assert await state.reconciler.run_once() is not None


async def test_deleted_events_over_several_pages_are_one_gap(port: Port) -> None:
    for _ in range(2):
        await place_hold(port, await ready_chain(port), "customs")
    size = await integrate_all(port.release)
    assert size > 12
    async with transaction(port.release.state.sessions) as session:
        await session.exec(
            delete(AuditEvent).where(
                col(AuditEvent.log_index) >= 3, col(AuditEvent.log_index) <= 10
            )
        )
    state = port.release.state
    outcome = await run(
        state.read_sessions, state.sessions, log=state.audit_log, actor="test", page=4
    )

    assert outcome is not None
    gaps = [d for d in differences(outcome) if d["table"] == "audit_events"]
    assert gaps == [
        {
            "table": "audit_events",
            "key": {"log_index_from": 3, "log_index_to": 10},
            "problem": "missing",
        }
    ]


async def test_integrated_but_unsigned_events_are_pending_too_in_log_order(port: Port) -> None:
    await integrate_all(port.release)
    state = port.release.state
    log = state.audit_log
    signed = await ready_chain(port)
    await place_hold(port, signed, "terminal")
    # The sequencer integrates them but signs no checkpoint yet.
    await step(state.sessions, signer=log.signer, origin=log.origin, batch_size=1000, sign=False)
    unintegrated = await ready_chain(port)
    await place_hold(port, unintegrated, "customs")
    async with transaction(state.sessions) as session:
        stored = await count_events(session)

    outcome = await run(state.read_sessions, state.sessions, log=log, actor="test", page=2)

    assert outcome is not None and differences(outcome) == []
    assert {signed.release_id, unintegrated.release_id} <= outcome.report.pending_releases
    # Every event but those under the checkpoint, each once across the pages.
    assert outcome.report.pending_events == stored - outcome.report.signed_size


async def test_a_deleted_access_log_row_is_a_difference_and_alerted(port: Port) -> None:
    # The scheduled run checks this month's and last month's reads against their seals.
    await add_rows(port.release, row(), row(), row())
    await seal(port.release)
    kept = await ids(port.release)
    await integrate_all(port.release)
    assert differences(await reconcile(port)) == []

    await dba(port.release, "DELETE FROM access_log WHERE id = :id", id=kept[1])
    outcome = await reconcile(port)
    found = differences(outcome)
    assert [(d["table"], d["problem"]) for d in found] == [("access_log", "seal_differs")]
    assert found[0]["key"]["first_id"] == kept[0] and found[0]["key"]["last_id"] == kept[2]
    assert outcome.alert_id is not None
    [alert] = await mismatch_alerts(port)
    assert alert.severity == "critical" and "access_log" in alert.summary
