"""Threat: a port-security officer pulls the identity service's alerts, figures and party
exposure reports in bulk (who holds keys where, who was suspended), trusting that the
identity service, which keeps no access log, does not watch its watchers. Each of those
reads is an audit event `security.read` naming him and the endpoint, and a burst of them
raises an alert about him there.
"""

from tests.monitoring.alerting import alerts, events, look
from tests.release.chains import ok
from tests.release.port import Port


async def test_an_officers_burst_of_identity_reads_raises_an_alert_about_him(
    port: Port,
) -> None:
    officer = await port.person_headers("security", "officer")
    client = port.identity_client
    ok(
        await client.put(
            "/v1/monitoring/rules/lookup_burst",
            json={"enabled": True, "thresholds": {"count": 6, "window_seconds": 600}},
            headers=officer,
        )
    )
    await look(port.identity)
    for member in ("line", "carrier", "terminal"):
        ok(await client.get(f"/v1/parties/{port[member].id}/exposure", headers=officer))
    ok(await client.get("/v1/alerts", headers=officer))
    ok(await client.get("/v1/monitoring/rules", headers=officer))
    figures = await client.get("/v1/figures/2026", headers=officer)
    assert figures.status_code == 200, figures.text
    await look(port.identity)

    person = port["security"].people["officer"]
    reads = await events(port.identity, "security.read")
    assert [e["action"] for e in reads] == [
        "exposure.read",
        "exposure.read",
        "exposure.read",
        "alerts.list",
        "monitoring.rules",
        "figures.read",
    ]
    assert {e["about"] for e in reads if e["action"] == "exposure.read"} == {
        port[member].id for member in ("line", "carrier", "terminal")
    }
    assert {(e["actor"], e["outcome"]) for e in reads} == {(f"person:{person.id}", "ok")}
    [alert] = await alerts(port.identity, "lookup_burst")
    assert alert.subject == f"person:{person.id}"
    assert alert.facts["count"] == 6


async def test_reads_below_the_threshold_raise_nothing(port: Port) -> None:
    officer = await port.person_headers("security", "officer")
    await look(port.identity)
    for _ in range(3):
        ok(await port.identity_client.get("/v1/alerts", headers=officer))
    await look(port.identity)
    assert len(await events(port.identity, "security.read")) == 3
    assert await alerts(port.identity, "lookup_burst") == []
