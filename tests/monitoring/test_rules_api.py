"""Port security sets each rule's thresholds through the API; every change is audited."""

import uuid

from shared.db import transaction
from shared.models import utcnow
from shared.monitoring.models import MonitoringRule
from tests.helpers import assert_problem
from tests.monitoring.alerting import events, runner
from tests.release.port import Port

RELEASE_RULES = {
    "out_of_scope_lookups",
    "lookup_burst",
    "watched_container_lookups",
    "release_not_entitled",
    "refused_security_reads",
    "unusual_hours",
    "driver_reassigned",
    "renomination",
    "inspection_cancellations",
}


async def test_the_rules_are_listed_with_their_defaults(port: Port) -> None:
    officer = await port.person_headers("security", "officer")
    listed = await port.client.get("/v1/monitoring/rules", headers=officer)
    assert listed.status_code == 200, listed.text
    rules = {rule["name"]: rule for rule in listed.json()["rules"]}
    assert set(rules) == RELEASE_RULES
    scope = rules["out_of_scope_lookups"]
    assert scope["enabled"] is True
    assert scope["thresholds"] == scope["defaults"] == {"count": 3, "window_seconds": 3600}
    assert scope["sources"] == ["access_log"]
    assert scope["changed_by"] is None


async def test_an_officer_changes_a_threshold_and_the_log_says_from_what(port: Port) -> None:
    officer = await port.person_headers("security", "officer")
    changed = await port.client.put(
        "/v1/monitoring/rules/lookup_burst",
        json={"enabled": True, "thresholds": {"count": 50}},
        headers=officer,
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["thresholds"] == {"count": 50, "window_seconds": 600}
    assert changed.json()["changed_by"].startswith("person:")
    again = await port.client.put(
        "/v1/monitoring/rules/lookup_burst", json={"enabled": False}, headers=officer
    )
    assert again.json()["thresholds"]["count"] == 50  # what is not named keeps its value
    [first, second] = await events(port.release, "monitoring.rule_changed")
    assert first["before"] == {"enabled": True, "thresholds": {"count": 200, "window_seconds": 600}}
    assert first["after"] == {"enabled": True, "thresholds": {"count": 50, "window_seconds": 600}}
    assert second["after"]["enabled"] is False
    assert first["actor"] == changed.json()["changed_by"]
    listed = await port.client.get("/v1/monitoring/rules", headers=officer)
    burst = next(r for r in listed.json()["rules"] if r["name"] == "lookup_burst")
    assert (burst["enabled"], burst["thresholds"]["count"]) == (False, 50)


async def test_thresholds_that_do_not_fit_the_rule_are_refused(port: Port) -> None:
    officer = await port.person_headers("security", "officer")
    for thresholds in (
        {"count": 0},
        {"count": "many"},
        {"window_seconds": 1},
        {"max_share": 0.5},  # another rule's threshold
    ):
        refused = await port.client.put(
            "/v1/monitoring/rules/out_of_scope_lookups",
            json={"enabled": True, "thresholds": thresholds},
            headers=officer,
        )
        assert_problem(refused, 422, "thresholds_invalid")
    unusual = await port.client.put(
        "/v1/monitoring/rules/unusual_hours",
        json={"enabled": True, "thresholds": {"max_share": 1.5}},
        headers=officer,
    )
    assert_problem(unusual, 422, "thresholds_invalid")
    assert await events(port.release, "monitoring.rule_changed") == []


async def test_an_unknown_rule_is_not_found(port: Port) -> None:
    officer = await port.person_headers("security", "officer")
    missing = await port.client.put(
        "/v1/monitoring/rules/no_such_rule", json={"enabled": True}, headers=officer
    )
    assert_problem(missing, 404, "rule_not_found")


async def test_thresholds_stored_in_an_older_form_fall_back_to_the_defaults(port: Port) -> None:
    """A rule whose stored thresholds no longer fit still runs (on its defaults)."""
    async with transaction(port.release.state.sessions) as session:
        session.add(
            MonitoringRule(
                name="lookup_burst",
                enabled=True,
                thresholds={"reads": 5},
                changed_by="person:earlier",
                changed_at=utcnow(),
                event_id=uuid.uuid4(),
            )
        )
    officer = await port.person_headers("security", "officer")
    listed = await port.client.get("/v1/monitoring/rules", headers=officer)
    burst = next(r for r in listed.json()["rules"] if r["name"] == "lookup_burst")
    assert burst["thresholds"] == burst["defaults"]
    assert (await runner(port.release).sweep()).raised == 0
