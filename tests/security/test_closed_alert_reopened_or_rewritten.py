"""Threat: an officer closes an alert about a colleague as unfounded, or later rewrites the
outcome of a closed alert, or reopens and quietly closes it again with a kinder reason. A
closure is final: acknowledging or closing again is refused (409), the stored outcome and
reason stay as first given, and the audit log holds every step with who took it.
"""

from tests.helpers import assert_problem
from tests.monitoring.alerting import events, raise_one
from tests.release.port import Port


async def test_a_closed_alert_can_neither_be_reopened_nor_rewritten(port: Port) -> None:
    alert_id = await raise_one(port.release, subject="person:colleague")
    first = await port.person_headers("security", "officer")
    closed = await port.client.post(
        f"/v1/alerts/{alert_id}/close",
        json={"outcome": "confirmed", "reason": "he sold the PIN codes"},
        headers=first,
    )
    assert closed.status_code == 200

    port["security"].people.pop("officer")
    second = await port.person_headers("security", "officer")  # another officer
    assert_problem(
        await port.client.post(
            f"/v1/alerts/{alert_id}/close",
            json={"outcome": "unfounded", "reason": "a misunderstanding"},
            headers=second,
        ),
        409,
        "alert_closed",
    )
    assert_problem(
        await port.client.post(f"/v1/alerts/{alert_id}/acknowledge", headers=second),
        409,
        "alert_not_open",
    )
    for method in ("PUT", "PATCH", "DELETE"):
        response = await port.client.request(
            method, f"/v1/alerts/{alert_id}", json={"status": "open"}, headers=second
        )
        assert response.status_code == 405, (method, response.text)

    stored = (await port.client.get(f"/v1/alerts/{alert_id}", headers=second)).json()
    assert (stored["status"], stored["outcome"], stored["close_reason"]) == (
        "closed",
        "confirmed",
        "he sold the PIN codes",
    )
    [closure] = await events(port.release, "alert.closed")
    assert (closure["outcome"], closure["actor"]) == ("confirmed", closed.json()["closed_by"])
