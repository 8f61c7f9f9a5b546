"""Alerts' lifecycle in the release service: open, acknowledged, closed with a reason."""

import uuid

from tests.helpers import assert_problem
from tests.monitoring.alerting import events, raise_one
from tests.release.port import Port, access_log


async def test_an_officer_acknowledges_then_closes_an_alert_each_step_logged(port: Port) -> None:
    alert_id = await raise_one(port.release, subject="person:someone")
    officer = await port.person_headers("security", "officer")

    listed = await port.client.get("/v1/alerts", params={"status": "open"}, headers=officer)
    assert listed.status_code == 200, listed.text
    [open_alert] = listed.json()["alerts"]
    assert open_alert["alert_id"] == str(alert_id)
    assert open_alert["status"] == "open"
    assert open_alert["rule"] == "test_alert"
    assert open_alert["subject"] == "person:someone"

    acked = await port.client.post(f"/v1/alerts/{alert_id}/acknowledge", headers=officer)
    assert acked.status_code == 200, acked.text
    assert acked.json()["status"] == "acknowledged"
    assert acked.json()["acknowledged_by"].startswith("person:")
    closed = await port.client.post(
        f"/v1/alerts/{alert_id}/close",
        json={"outcome": "unfounded", "reason": "his manager asked him to check"},
        headers=officer,
    )
    assert closed.status_code == 200, closed.text
    body = closed.json()
    assert (body["status"], body["outcome"]) == ("closed", "unfounded")
    assert body["close_reason"] == "his manager asked him to check"
    assert body["closed_by"] == body["acknowledged_by"]

    assert [e["alert_id"] for e in await events(port.release, "alert.acknowledged")] == [
        str(alert_id)
    ]
    [closure] = await events(port.release, "alert.closed")
    assert closure["outcome"] == "unfounded"
    assert closure["reason"] == "his manager asked him to check"
    still_open = await port.client.get("/v1/alerts", params={"status": "open"}, headers=officer)
    assert still_open.json()["alerts"] == []


async def test_an_alert_is_closed_without_acknowledging_it_first(port: Port) -> None:
    alert_id = await raise_one(port.release)
    officer = await port.person_headers("security", "officer")
    closed = await port.client.post(
        f"/v1/alerts/{alert_id}/close",
        json={"outcome": "confirmed", "reason": "seen on camera"},
        headers=officer,
    )
    assert closed.json()["status"] == "closed"
    assert closed.json()["acknowledged_by"] is None


async def test_illegal_steps_are_conflicts_with_stable_codes(port: Port) -> None:
    alert_id = await raise_one(port.release)
    officer = await port.person_headers("security", "officer")
    ack = f"/v1/alerts/{alert_id}/acknowledge"
    assert (await port.client.post(ack, headers=officer)).status_code == 200
    assert_problem(await port.client.post(ack, headers=officer), 409, "alert_not_open")
    close = f"/v1/alerts/{alert_id}/close"
    body = {"outcome": "confirmed", "reason": "he admitted it"}
    assert (await port.client.post(close, json=body, headers=officer)).status_code == 200
    assert_problem(await port.client.post(close, json=body, headers=officer), 409, "alert_closed")
    assert_problem(await port.client.post(ack, headers=officer), 409, "alert_not_open")


async def test_a_closure_needs_an_outcome_and_a_reason(port: Port) -> None:
    alert_id = await raise_one(port.release)
    officer = await port.person_headers("security", "officer")
    close = f"/v1/alerts/{alert_id}/close"
    for body in (
        {"outcome": "confirmed"},
        {"outcome": "confirmed", "reason": ""},
        {"outcome": "maybe", "reason": "unsure"},
        {"outcome": "confirmed", "reason": "   "},
    ):
        refused = await port.client.post(close, json=body, headers=officer)
        assert refused.status_code == 422, (body, refused.text)
    got = await port.client.get(f"/v1/alerts/{alert_id}", headers=officer)
    assert got.json()["status"] == "open"


async def test_an_unknown_alert_is_not_found(port: Port) -> None:
    officer = await port.person_headers("security", "officer")
    missing = uuid.uuid4()
    assert_problem(
        await port.client.get(f"/v1/alerts/{missing}", headers=officer), 404, "alert_not_found"
    )
    assert_problem(
        await port.client.post(f"/v1/alerts/{missing}/acknowledge", headers=officer),
        404,
        "alert_not_found",
    )


async def test_every_read_of_alerts_is_in_the_access_log(port: Port) -> None:
    alert_id = await raise_one(port.release)
    officer = await port.person_headers("security", "officer")
    await port.client.get("/v1/alerts", headers=officer)
    await port.client.get(f"/v1/alerts/{alert_id}", headers=officer)
    await port.client.get("/v1/alerts", headers=port["security"].headers)
    reads = [(e.action, e.actor.split(":")[0]) for e in await access_log(port.release)]
    assert reads == [
        ("alerts.list", "person"),
        ("alerts.read", "person"),
        ("alerts.list", "client"),
    ]


async def test_evidence_names_audit_events_with_their_receipts(port: Port) -> None:
    event_id = uuid.uuid4()
    alert_id = await raise_one(
        port.release, evidence=[{"access_log": 7}, {"audit_event": str(event_id)}]
    )
    officer = await port.person_headers("security", "officer")
    body = (await port.client.get(f"/v1/alerts/{alert_id}", headers=officer)).json()
    assert body["evidence"] == [
        {"access_log": 7, "audit_event": None, "receipt": None},
        {
            "access_log": None,
            "audit_event": str(event_id),
            "receipt": f"/v1/log/events/{event_id}/receipt",
        },
    ]
    [raised] = await events(port.release, "alert.raised")
    assert raised["evidence"] == [{"access_log": 7}, {"audit_event": str(event_id)}]
