"""Threat: a bribed employee looks up containers of other parties' chains to learn where they
are. Every look-up is refused (404, as if nothing existed), and he may think that leaves no
trace: each refused read is in the access log, and the rules raise an alert naming them.
"""

from tests.monitoring.alerting import alerts, runner
from tests.release.chains import create_release
from tests.release.port import Port


async def test_refused_look_ups_of_other_chains_raise_an_alert_for_port_security(
    port: Port,
) -> None:
    chains = [await create_release(port) for _ in range(3)]
    await runner(port.release).step()
    insider = await port.person_headers("other_carrier")
    for chain in chains:
        refused = await port.client.get(f"/v1/releases/{chain.release_id}", headers=insider)
        assert refused.status_code == 404
        searched = await port.client.get(
            "/v1/releases", params={"container": chain.container}, headers=insider
        )
        assert searched.json()["releases"] == []
    await runner(port.release).step()

    officer = await port.person_headers("security", "officer")
    listed = await port.client.get(
        "/v1/alerts", params={"status": "open", "kind": "out_of_scope_lookups"}, headers=officer
    )
    [alert] = listed.json()["alerts"]
    person = port["other_carrier"].people["dispatcher"]
    assert alert["subject"] == f"person:{person.id}"
    assert alert["facts"]["count"] == 6
    assert set(alert["facts"]["containers"]) == {chain.container for chain in chains}
    assert len(alert["evidence"]) == 6
    assert len(await alerts(port.release, "out_of_scope_lookups")) == 1
