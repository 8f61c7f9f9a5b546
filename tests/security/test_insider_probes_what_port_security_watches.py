"""Threat: an insider outside port security (a carrier's dispatcher, a terminal operator,
the official who tips off when the dog comes) asks for the alerts, the rules, the yearly
figures, who knew of a container or another party's exposure, to learn whether he is
watched. Each attempt is refused, and each refusal is recorded on the service that refused
it (the release service's access log; the identity service's audit log, `security.read`)
and counted: three in an hour raise a high alert about him on that service.
"""

from tests.monitoring.alerting import alerts, events, look, runner
from tests.release.port import Port, access_log

CONTAINER = "MSCU1234566"


async def test_release_refusals_are_recorded_and_raise_an_alert(port: Port) -> None:
    dispatcher = await port.person_headers("carrier", "dispatcher")
    await runner(port.release).step()
    for path in (
        "/v1/alerts",
        "/v1/figures/2026",
        f"/v1/investigations/containers/{CONTAINER}/who-knew",
    ):
        refused = await port.client.get(path, headers=dispatcher)
        assert refused.status_code == 403, (path, refused.text)
    await runner(port.release).step()

    person = port["carrier"].people["dispatcher"]
    refusals = [
        (e.action, e.outcome) for e in await access_log(port.release) if e.person_id == person.id
    ]
    assert refusals == [
        ("alerts.list", "refused"),
        ("figures.read", "refused"),
        ("investigation.who_knew", "refused"),
    ]
    [alert] = await alerts(port.release, "refused_security_reads")
    assert (alert.severity, alert.subject) == ("high", f"person:{person.id}")
    assert alert.facts["count"] == 3 and len(alert.evidence) == 3


async def test_refused_attempts_to_decide_an_alert_count_too(port: Port) -> None:
    operator = await port.person_headers("terminal", "operator")
    await runner(port.release).step()
    alert_id = "00000000-0000-4000-8000-000000000001"
    for method, path, body in (
        ("POST", f"/v1/alerts/{alert_id}/acknowledge", None),
        ("POST", f"/v1/alerts/{alert_id}/close", {"outcome": "unfounded", "reason": "no"}),
        ("PUT", "/v1/monitoring/rules/lookup_burst", {"enabled": False}),
    ):
        refused = await port.client.request(method, path, json=body, headers=operator)
        assert refused.status_code == 403, (path, refused.text)
    await runner(port.release).step()
    [alert] = await alerts(port.release, "refused_security_reads")
    assert sorted(alert.facts["actions"]) == [
        "alerts.acknowledge",
        "alerts.close",
        "monitoring.rule_change",
    ]


async def test_identity_refusals_are_recorded_and_raise_an_alert(port: Port) -> None:
    dispatcher = await port.person_headers("carrier", "dispatcher")
    await look(port.identity)
    client = port.identity_client
    for path in (
        "/v1/alerts",
        "/v1/figures/2026",
        f"/v1/parties/{port['line'].id}/exposure",
    ):
        refused = await client.get(path, headers=dispatcher)
        assert refused.status_code in (403, 404), (path, refused.text)
    await look(port.identity)

    person = port["carrier"].people["dispatcher"]
    reads = [e for e in await events(port.identity, "security.read")]
    assert [(e["action"], e["outcome"], e["about"]) for e in reads] == [
        ("alerts.list", "refused", None),
        ("figures.read", "refused", "2026"),
        ("exposure.read", "not_found", port["line"].id),
    ]
    assert {e["actor"] for e in reads} == {f"person:{person.id}"}
    assert [e["endpoint"] for e in reads] == [
        "GET /v1/alerts",
        "GET /v1/figures/{year}",
        "GET /v1/parties/{party_id}/exposure",
    ]
    [alert] = await alerts(port.identity, "refused_security_reads")
    assert (alert.severity, alert.subject) == ("high", f"person:{person.id}")
    assert len(alert.evidence) == 3


async def test_two_refusals_raise_nothing(port: Port) -> None:
    dispatcher = await port.person_headers("carrier", "dispatcher")
    await look(port.identity)
    for _ in range(2):
        refused = await port.identity_client.get("/v1/alerts", headers=dispatcher)
        assert refused.status_code == 403
    await look(port.identity)
    assert len(await events(port.identity, "security.read")) == 2
    assert await alerts(port.identity, "refused_security_reads") == []
