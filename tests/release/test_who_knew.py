"""Who knew of a container: every read and every party told, before the pickup and after."""

from datetime import UTC, datetime

from tests.helpers import assert_problem
from tests.monitoring.alerting import raise_one
from tests.release.chains import ok
from tests.release.port import Port, access_log, new_container
from tests.release.who_knew import PATH, picked_up, who_knew


async def test_the_answer_names_each_read_with_its_endpoint_and_the_pickup(port: Port) -> None:
    chain = await picked_up(port)
    after = ok(
        await port.client.get(f"/v1/releases/{chain.release_id}", headers=port["forwarder"].headers)
    )
    assert after["status"] == "picked_up"

    answer = await who_knew(port, chain.container)

    assert answer["container"] == chain.container
    [pickup] = answer["pickups"]
    assert pickup["release_id"] == str(chain.release_id)
    entries = answer["entries"]
    assert [e["at"] for e in entries] == sorted(e["at"] for e in entries)
    reads = [
        e
        for e in entries
        if e["source"] == "access_log" and e["endpoint"] == "GET /v1/releases/{release_id}"
    ]
    assert [(e["party_id"], e["pickup"]) for e in reads] == [(port["forwarder"].id, "after")]
    told = {(e["action"], e["party_id"]) for e in entries if e["source"] != "access_log"}
    assert ("release.made", port["line"].id) in told
    for receiver in ("forwarder", "forwarder2", "carrier", "sub"):
        assert ("link.received", port[receiver].id) in told
    assert ("gate.asked", port["terminal"].id) in told
    [asked] = [e for e in entries if e["action"] == "gate.asked"]
    assert asked["endpoint"] == "POST /v1/gate/decisions"
    assert asked["outcome"] == "release"
    assert asked["pickup"] == "before"
    [driver] = [
        e for e in entries if e["action"] == "link.received" and e["outcome"] == "assignment"
    ]
    assert chain.driver is not None
    assert driver["person_id"] == str(chain.driver.id)


async def test_the_question_is_itself_in_the_access_log(port: Port) -> None:
    chain = await picked_up(port)
    await who_knew(port, chain.container)
    [entry] = [e for e in await access_log(port.release) if e.action == "investigation.who_knew"]
    assert entry.container == chain.container
    assert entry.party_id == port["security"].id
    assert entry.person_id == port["security"].people["officer"].id
    assert entry.outcome == "shown"
    assert entry.endpoint == "GET /v1/investigations/containers/{container}/who-knew"
    again = await who_knew(port, chain.container)
    assert any(e["action"] == "investigation.who_knew" for e in again["entries"])


async def test_pages_hold_every_entry_once(port: Port) -> None:
    chain = await picked_up(port)
    # Each question is logged, so a period that ends now keeps later questions out.
    until = datetime.now(UTC).isoformat()
    whole = await who_knew(port, chain.container, until=until)
    paged = await who_knew(port, chain.container, until=until, limit=3)
    assert len(whole["entries"]) > 3
    assert paged["entries"] == whole["entries"]


async def test_a_period_keeps_only_its_entries(port: Port) -> None:
    chain = await picked_up(port)
    whole = await who_knew(port, chain.container)
    pickup = whole["pickups"][0]["at"]
    after = await who_knew(port, chain.container, since=pickup)
    assert after["entries"]
    moment = datetime.fromisoformat(pickup)
    assert all(datetime.fromisoformat(e["at"]) >= moment for e in after["entries"])
    assert all(e["pickup"] == "after" for e in after["entries"])
    before = await who_knew(port, chain.container, until=pickup)
    assert all(e["pickup"] == "before" for e in before["entries"])


async def test_a_container_nobody_released_has_only_the_lookups(port: Port) -> None:
    container = new_container()
    searched = ok(
        await port.client.get(
            "/v1/releases", params={"container": container}, headers=port["carrier"].headers
        )
    )
    assert searched["releases"] == []
    answer = await who_knew(port, container)
    assert answer["pickups"] == []
    [lookup] = [e for e in answer["entries"] if e["party_id"] == port["carrier"].id]
    assert (lookup["action"], lookup["outcome"], lookup["pickup"]) == (
        "release.search",
        "not_found",
        "none",
    )
    assert lookup["endpoint"] == "GET /v1/releases"


async def test_bad_questions_are_refused(port: Port) -> None:
    officer = await port.person_headers("security", "officer")
    response = await port.client.get(PATH.format("NOT-A-BOX"), headers=officer)
    assert_problem(response, 422, "invalid_container")
    container = new_container()
    response = await port.client.get(
        PATH.format(container),
        params={"since": "2026-12-02T00:00:00Z", "until": "2026-12-01T00:00:00Z"},
        headers=officer,
    )
    assert_problem(response, 422, "period_invalid")
    response = await port.client.get(
        PATH.format(container), params={"cursor": "nonsense"}, headers=officer
    )
    assert_problem(response, 422, "cursor_invalid")


async def test_alerts_naming_the_container_and_the_officers_who_read_them(port: Port) -> None:
    chain = await picked_up(port)
    other = new_container()
    named = await raise_one(
        port.release,
        kind="watched_container_lookups",
        facts={"containers": [chain.container], "release_id": str(chain.release_id)},
    )
    # Another container, and the number inside a longer string: neither names this one.
    await raise_one(port.release, facts={"containers": [other], "note": f"X{chain.container}9"})
    officer = await port.person_headers("security", "officer")
    ok(await port.client.get(f"/v1/alerts/{named}", headers=officer))
    ok(await port.client.post(f"/v1/alerts/{named}/acknowledge", headers=officer))
    closed = {"outcome": "unfounded", "reason": "a planner doing his work"}
    ok(await port.client.post(f"/v1/alerts/{named}/close", json=closed, headers=officer))

    entries = (await who_knew(port, chain.container))["entries"]

    person = f"person:{port['security'].people['officer'].id}"
    alerted = [(e["action"], e["actor"]) for e in entries if e["source"] == "alert"]
    assert alerted == [
        ("alert.raised", None),
        ("alert.acknowledged", person),
        ("alert.closed", person),
    ]
    assert {e["outcome"] for e in entries if e["source"] == "alert"} == {
        "watched_container_lookups"
    }
    assert {e["release_id"] for e in entries if e["source"] == "alert"} == {str(chain.release_id)}
    [read] = [e for e in entries if e["action"] == "alerts.read"]
    assert (read["actor"], read["endpoint"], read["pickup"]) == (
        person,
        "GET /v1/alerts/{alert_id}",
        "after",
    )
    [other_alert] = [e for e in (await who_knew(port, other))["entries"]]
    assert (other_alert["source"], other_alert["pickup"]) == ("alert", "none")
