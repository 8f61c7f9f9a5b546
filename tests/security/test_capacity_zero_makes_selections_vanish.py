"""Threat: someone sets a terminal's daily inspection capacity to zero (or lets it fill) so
that selections quietly do not happen.

A selection beyond the capacity is still drawn, recorded as `over_capacity` with its draw,
logged, and raised as an alert to port security: it can be seen, never silently dropped.
"""

from tests.conftest import SettingsFactory
from tests.release.chains import ask_gate, full_chain, gate_pass, ok
from tests.release.port import audit_types, make_port

PERIOD = {"since": "2000-01-01T00:00:00Z", "until": "2100-01-01T00:00:00Z"}


async def test_every_selection_over_capacity_is_recorded_and_alerted(
    make_settings: SettingsFactory,
) -> None:
    async with make_port(make_settings) as port:
        security = port["security"].headers
        ok(
            await port.client.put(
                f"/v1/inspections/policies/{port['terminal'].id}",
                json={"base": 1.0, "floor": 1.0, "daily_capacity": 0},
                headers=security,
            )
        )
        decisions = []
        for _ in range(2):
            chain = await full_chain(port, path=("forwarder", "carrier"))
            assert chain.driver is not None
            token = await gate_pass(port, "carrier", chain.driver)
            decisions.append(await ask_gate(port, chain.container, gate_pass=token))
        assert [decision["decision"] for decision in decisions] == ["release", "release"]

        alerts = ok(await port.client.get("/v1/alerts", params=PERIOD, headers=security))
        assert sorted(alert["facts"]["decision_id"] for alert in alerts["alerts"]) == sorted(
            decision["decision_id"] for decision in decisions
        )
        draws = ok(await port.client.get("/v1/inspections/draws", params=PERIOD, headers=security))
        assert all(draw["selected"] for draw in draws["draws"])
        assert (await audit_types(port.release)).count("inspection.over_capacity") == 2
