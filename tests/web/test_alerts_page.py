"""Port security's alerts page: both services' alerts, acknowledged and closed by an
officer through the page, and new ones in one merged live feed."""

import json
from typing import Any

from tests.monitoring.alerting import events, raise_one
from tests.web.port import WebPort, csrf_of


async def test_an_officer_sees_both_services_alerts_and_works_them_off(web_port: WebPort) -> None:
    port = web_port.port
    release_alert = await raise_one(port.release, summary="look-ups outside the chain")
    identity_alert = await raise_one(port.identity, summary="sign-ins refused from one address")
    officer = await web_port.browser()
    await web_port.sign_in(officer, await web_port.person("security", "officer"))

    page = await officer.get("/security/alerts")
    assert page.status_code == 200, page.text
    assert "look-ups outside the chain" in page.text
    assert "sign-ins refused from one address" in page.text
    csrf = csrf_of(page.text)

    acknowledged = await officer.post(
        f"/security/alerts/release/{release_alert}/acknowledge", data={"csrf": csrf}
    )
    assert acknowledged.status_code == 303
    closed = await officer.post(
        f"/security/alerts/identity/{identity_alert}/close",
        data={"csrf": csrf, "outcome": "unfounded", "reason": "a driver who forgot his code"},
    )
    assert closed.status_code == 303
    assert [e["alert_id"] for e in await events(port.release, "alert.acknowledged")] == [
        str(release_alert)
    ]
    assert [e["reason"] for e in await events(port.identity, "alert.closed")] == [
        "a driver who forgot his code"
    ]

    waiting = await officer.get("/security/alerts")
    assert "look-ups outside the chain" in waiting.text
    assert "sign-ins refused from one address" not in waiting.text
    shut = await officer.get("/security/alerts", params={"status": "closed"})
    assert "a driver who forgot his code" in shut.text


async def test_a_form_without_its_csrf_token_closes_nothing(web_port: WebPort) -> None:
    alert_id = await raise_one(web_port.port.release)
    officer = await web_port.browser()
    await web_port.sign_in(officer, await web_port.person("security", "officer"))
    refused = await officer.post(
        f"/security/alerts/release/{alert_id}/close",
        data={"csrf": "forged", "outcome": "unfounded", "reason": "hush"},
    )
    assert refused.status_code == 403
    assert await events(web_port.port.release, "alert.closed") == []


async def test_the_live_feed_merges_both_services_and_resumes_where_it_left_off(
    web_port: WebPort,
) -> None:
    port = web_port.port
    officer = await web_port.browser()
    await web_port.sign_in(officer, await web_port.person("security", "officer"))
    first = await raise_one(port.release, summary="first")
    second = await raise_one(port.identity, summary="second")

    feed = await officer.get(
        "/security/alerts/stream", params={"after": "release:0,identity:0", "idle": "0"}
    )
    assert feed.status_code == 200 and feed.headers["content-type"].startswith("text/event-stream")
    received = _events(feed.text)
    assert {(e["service"], e["alert"]["alert_id"]) for _, e in received} == {
        ("release", str(first)),
        ("identity", str(second)),
    }
    last_id = received[-1][0]
    assert "release:" in last_id and "identity:" in last_id

    third = await raise_one(port.release, summary="third")
    resumed = await officer.get(
        "/security/alerts/stream", params={"idle": "0"}, headers={"Last-Event-ID": last_id}
    )
    assert [e["alert"]["alert_id"] for _, e in _events(resumed.text)] == [str(third)]


async def test_the_alerts_pages_are_port_securitys_alone(web_port: WebPort) -> None:
    alert_id = await raise_one(web_port.port.release)
    dispatcher = await web_port.browser()
    await web_port.sign_in(dispatcher, await web_port.person("carrier", "dispatcher"))
    assert (await dispatcher.get("/security/alerts")).status_code == 403
    assert (await dispatcher.get("/security/alerts/stream", params={"idle": "0"})).status_code == (
        403
    )
    home = await dispatcher.get("/", follow_redirects=True)
    closed = await dispatcher.post(
        f"/security/alerts/release/{alert_id}/close",
        data={"csrf": csrf_of(home.text), "outcome": "unfounded", "reason": "mine now"},
    )
    assert closed.status_code == 403
    assert await events(web_port.port.release, "alert.closed") == []


def _events(text: str) -> list[tuple[str, dict[str, Any]]]:
    """(id, data) of each event in a server-sent event body."""
    found = []
    for block in text.split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if "data" in fields:
            found.append((fields["id"], json.loads(fields["data"])))
    return found
