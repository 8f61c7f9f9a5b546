"""Threat: a handler skips a visit and says nothing, hoping nobody notices.

Every visit ends with an outcome: one nobody records within the grace time after its end is
recorded missed (`not_reported`) by the scheduler, and raises an alert to port security, as
a visit the team says it missed does.
"""

from datetime import timedelta

from tests.release.port import Port
from tests.release.visits import alerts, make_site, now_slot, officer, run_until, slots

LEAD = timedelta(seconds=600)


async def test_an_unreported_visit_becomes_a_missed_one_with_an_alert(port: Port) -> None:
    handler = await officer(port, "customs")
    start = now_slot(port) - timedelta(hours=3)
    await make_site(port, team=[handler], since=start, visit_seconds=600)
    await run_until(port, start - LEAD, start + timedelta(seconds=600 + 3600 + 300))
    lapsed = [slot for slot in await slots(port) if slot.outcome is not None]
    assert [(slot.outcome, slot.reason) for slot in lapsed] == [("missed", "not_reported")] * 2
    raised = await alerts(port)
    assert sorted(alert.facts["visit_id"] for alert in raised) == sorted(
        str(slot.id) for slot in lapsed
    )
    assert {alert.severity for alert in raised} == {"high"}
