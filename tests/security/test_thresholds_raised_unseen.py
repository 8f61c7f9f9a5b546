"""Threat: an insider in port security raises a rule's threshold (or switches it off) so
that his own, or a friend's, look-ups stop raising alerts. Every change is in the audit log
with who made it and the settings before and after, and the change shows on the rule.
"""

from tests.monitoring.alerting import events
from tests.release.chains import ok
from tests.release.port import Port


async def test_switching_a_rule_off_is_logged_with_who_and_what_it_was(port: Port) -> None:
    officer = await port.person_headers("security", "officer")
    changed = ok(
        await port.client.put(
            "/v1/monitoring/rules/out_of_scope_lookups",
            json={"enabled": False, "thresholds": {"count": 1000}},
            headers=officer,
        )
    )
    [event] = await events(port.release, "monitoring.rule_changed")
    assert event["rule"] == "out_of_scope_lookups"
    assert event["actor"] == changed["changed_by"]
    assert event["actor"] == f"person:{port['security'].people['officer'].id}"
    assert event["before"] == {"enabled": True, "thresholds": {"count": 3, "window_seconds": 3600}}
    assert event["after"] == {
        "enabled": False,
        "thresholds": {"count": 1000, "window_seconds": 3600},
    }
    listed = ok(await port.client.get("/v1/monitoring/rules", headers=port["security"].headers))
    rule = next(r for r in listed["rules"] if r["name"] == "out_of_scope_lookups")
    assert (rule["enabled"], rule["changed_by"]) == (False, event["actor"])
    assert rule["defaults"]["count"] == 3
