"""Threat: a port-security officer, who may read every release and every alert, pulls data
in bulk, trusting that the watchers do not watch themselves. His reads of alerts are in the
access log like anyone's, and a burst of them raises an alert about him.
"""

from tests.monitoring.alerting import alerts, raise_one, runner
from tests.release.chains import ok
from tests.release.port import Port, access_log


async def test_an_officers_own_burst_of_reads_raises_an_alert_about_him(port: Port) -> None:
    officer = await port.person_headers("security", "officer")
    ok(
        await port.client.put(
            "/v1/monitoring/rules/lookup_burst",
            json={"enabled": True, "thresholds": {"count": 10, "window_seconds": 600}},
            headers=officer,
        )
    )
    alert_id = await raise_one(port.release)
    await runner(port.release).step()
    for _ in range(5):
        ok(await port.client.get("/v1/alerts", headers=officer))
        ok(await port.client.get(f"/v1/alerts/{alert_id}", headers=officer))
    await runner(port.release).step()

    person = port["security"].people["officer"]
    reads = [e for e in await access_log(port.release) if e.person_id == person.id]
    assert {e.action for e in reads} >= {"alerts.list", "alerts.read"}
    [alert] = await alerts(port.release, "lookup_burst")
    assert alert.subject == f"person:{person.id}"
    assert alert.facts["party_id"] == port["security"].id
