"""The release service's rules, run by the rule runner over the access log and the audit log.

The runner's first look sets its cursors at the logs' end; each test primes it, acts through
the API (or appends events as the service's own code does), then lets it look.
"""

import uuid
from datetime import UTC, datetime, timedelta

from sqlmodel import col, select

from services.release.access.models import AccessLogEntry
from shared.audit.models import AuditEvent
from shared.db import transaction
from shared.models import utcnow
from shared.monitoring.rules import Arrived
from shared.monitoring.runner import RuleRunner
from shared.monitoring.sources import AUDIT_LOG
from tests.monitoring.alerting import alerts, log, look, runner
from tests.release.chains import create_release, ok
from tests.release.port import Port, announce, new_container, release_body


async def test_look_ups_outside_his_part_raise_one_alert_naming_each_read(port: Port) -> None:
    chain = await create_release(port)
    await look(port.release)
    snoop = await port.person_headers("other_carrier")
    for _ in range(3):
        hidden = await port.client.get(f"/v1/releases/{chain.release_id}", headers=snoop)
        assert hidden.status_code == 404
    report = await look(port.release)
    assert report.raised >= 1
    [alert] = await alerts(port.release, "out_of_scope_lookups")
    person = port["other_carrier"].people["dispatcher"]
    assert alert.subject == f"person:{person.id}"
    assert (alert.severity, alert.status, alert.kind) == ("high", "open", "out_of_scope_lookups")
    assert alert.facts["count"] == 3
    assert alert.facts["party_id"] == port["other_carrier"].id
    assert len(alert.evidence) == 3 and all("access_log" in item for item in alert.evidence)
    # Looking again, or sweeping, raises nothing new for the same window.
    await port.client.get(f"/v1/releases/{chain.release_id}", headers=snoop)
    await look(port.release)
    await runner(port.release).sweep()
    assert len(await alerts(port.release, "out_of_scope_lookups")) == 1


async def test_two_runners_raise_a_finding_once(port: Port) -> None:
    chain = await create_release(port)
    first = runner(port.release)
    second = RuleRunner(
        port.release.state.sessions,
        port.release.state.cache,
        first.rules,
        first.sources,
        poll_seconds=1,
        sweep_seconds=0,
    )
    await first.step()
    snoop = port["other_terminal"].headers
    for _ in range(3):
        await port.client.get(f"/v1/releases/{chain.release_id}", headers=snoop)
    await second.step()
    await first.step()
    await first.sweep()
    await second.sweep()
    [alert] = await alerts(port.release, "out_of_scope_lookups")
    assert alert.subject == f"client:{port['other_terminal'].id}"


async def test_releases_refused_for_want_of_the_right_raise_an_alert(port: Port) -> None:
    await look(port.release)
    for _ in range(3):
        container = new_container()
        await announce(port, container)  # the terminal names "line", not "other_line"
        refused = await port.client.post(
            "/v1/releases",
            json=release_body(port, container),
            headers=await port.person_headers("other_line"),
        )
        assert refused.status_code == 403, refused.text
    await look(port.release)
    [alert] = await alerts(port.release, "release_not_entitled")
    assert alert.facts["party_id"] == port["other_line"].id
    assert alert.facts["count"] == 3
    assert len(alert.facts["containers"]) == 3


async def test_look_ups_of_a_held_container_raise_an_alert(port: Port) -> None:
    chain = await create_release(port)
    held = await port.client.put(
        f"/v1/releases/{chain.release_id}/holds/customs", headers=port["customs"].headers
    )
    assert held.status_code in (200, 201), held.text
    await look(port.release)
    forwarder = await port.person_headers("forwarder")
    for _ in range(3):
        ok(await port.client.get(f"/v1/releases/{chain.release_id}", headers=forwarder))
    await look(port.release)
    [alert] = await alerts(port.release, "watched_container_lookups")
    assert alert.subject == f"person:{port['forwarder'].people['dispatcher'].id}"


async def test_a_lowered_burst_threshold_takes_effect_at_the_next_look(port: Port) -> None:
    officer = await port.person_headers("security", "officer")
    ok(
        await port.client.put(
            "/v1/monitoring/rules/lookup_burst",
            json={"enabled": True, "thresholds": {"count": 4, "window_seconds": 600}},
            headers=officer,
        )
    )
    await look(port.release)
    dispatcher = await port.person_headers("carrier")
    for _ in range(4):
        await port.client.get(
            "/v1/releases", params={"container": new_container()}, headers=dispatcher
        )
    await look(port.release)
    [alert] = await alerts(port.release, "lookup_burst")
    assert alert.facts["count"] == 4
    assert alert.facts["threshold"] == 4


async def test_a_disabled_rule_raises_nothing(port: Port) -> None:
    officer = await port.person_headers("security", "officer")
    ok(
        await port.client.put(
            "/v1/monitoring/rules/out_of_scope_lookups", json={"enabled": False}, headers=officer
        )
    )
    await look(port.release)
    for _ in range(5):
        await port.client.get(f"/v1/releases/{uuid.uuid4()}", headers=port["carrier"].headers)
    await look(port.release)
    await runner(port.release).sweep()
    assert await alerts(port.release, "out_of_scope_lookups") == []


async def _reads(port: Port, person_id: uuid.UUID, moments: list[datetime]) -> None:
    async with transaction(port.release.state.sessions) as session:
        for at in moments:
            session.add(
                AccessLogEntry(
                    at=at,
                    actor=f"person:{person_id}",
                    party_id=port["carrier"].id,
                    person_id=person_id,
                    action="release.search",
                    outcome="shown",
                    results=1,
                )
            )


async def test_reads_at_an_hour_unusual_for_that_person_raise_an_alert(port: Port) -> None:
    # 03:30 in Amsterdam (UTC+1 in December): the night shift's hour, not the day worker's.
    night = datetime(2026, 12, 1, 2, 30, tzinfo=UTC)
    day_worker, night_worker, newcomer = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    history = [night - timedelta(days=day, hours=h) for day in range(1, 26) for h in range(-9, 1)]
    day_history = [at.replace(hour=9) for at in history]  # 10:30 local
    await _reads(port, day_worker, [*day_history, night])
    await _reads(port, night_worker, [*history, night])
    await _reads(port, newcomer, [*day_history[:50], night])  # too little history
    await runner(port.release).sweep(now=night + timedelta(minutes=5))
    [alert] = await alerts(port.release, "unusual_hours")
    assert alert.subject == f"person:{day_worker}"
    assert alert.facts["hour"] == 3
    assert alert.facts["history"] == 250
    assert len(alert.evidence) == 1


async def test_a_driver_assigned_and_withdrawn_repeatedly_raises_an_alert(port: Port) -> None:
    await look(port.release)
    release_id = str(uuid.uuid4())
    carrier = port["carrier"].id
    withdrawn = {"release_id": release_id, "kind": "assignment", "party_id": carrier}
    first = await log(port.release, "link.withdrawn", {**withdrawn, "seq": 3})
    await log(port.release, "link.withdrawn", {**withdrawn, "seq": 2, "kind": "handover"})
    await look(port.release)
    assert await alerts(port.release, "driver_reassigned") == []
    second = await log(port.release, "link.withdrawn", {**withdrawn, "seq": 3})
    await look(port.release)
    [alert] = await alerts(port.release, "driver_reassigned")
    assert alert.subject == carrier
    assert alert.evidence == [{"audit_event": str(first)}, {"audit_event": str(second)}]


async def test_a_party_renominating_the_same_container_raises_an_alert(port: Port) -> None:
    await look(port.release)
    release_id = str(uuid.uuid4())
    forwarder = port["forwarder"].id
    for seq in range(3):
        await log(
            port.release,
            "link.submitted",
            {"release_id": release_id, "kind": "handover", "from": forwarder, "seq": seq + 1},
        )
    await look(port.release)
    [alert] = await alerts(port.release, "renomination")
    assert alert.subject == forwarder
    assert alert.facts["about"] == f"release {release_id}"


async def test_one_officer_asking_many_cancellations_raises_an_alert(port: Port) -> None:
    await look(port.release)
    officer = f"person:{uuid.uuid4()}"
    for _ in range(3):
        await log(
            port.release,
            "inspection.cancel_requested",
            {"inspection_id": str(uuid.uuid4()), "actor": officer, "reason": "other"},
        )
    await log(
        port.release,
        "inspection.cancel_requested",
        {"inspection_id": str(uuid.uuid4()), "actor": "person:someone-else", "reason": "other"},
    )
    await look(port.release)
    [alert] = await alerts(port.release, "inspection_cancellations")
    assert alert.subject == officer
    assert alert.severity == "high"


async def test_an_event_handed_to_a_rule_twice_is_counted_once(port: Port) -> None:
    """Two runners may see the same events (a cursor moved back): the marks say once."""
    rule = runner(port.release).rules.get("renomination")
    assert rule is not None
    release_id = str(uuid.uuid4())
    for seq in (1, 2):
        await log(
            port.release,
            "link.submitted",
            {"release_id": release_id, "kind": "handover", "from": "EU.EORI.NL1", "seq": seq},
        )
    async with transaction(port.release.state.sessions) as session:
        rows = (await session.exec(select(AuditEvent).order_by(col(AuditEvent.id)))).all()
        arrived = Arrived(AUDIT_LOG, rows)
        for _ in range(3):
            found = await rule.check(session, rule.defaults, arrived=arrived, now=utcnow())
            assert found == []  # 2 handovers, seen three times, are still 2 (< 3)
