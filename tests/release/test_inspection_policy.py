"""Risk-weighted selection: terminals' policies set by port security, the pickup's factors
weighing each draw, and the daily capacity beyond which a selection is recorded and alerted."""

import json
from typing import Any

import pytest

from tests.conftest import SettingsFactory
from tests.helpers import assert_problem
from tests.release.chains import (
    Chain,
    accept,
    ask_gate,
    assign,
    create_release,
    full_chain,
    gate_pass,
    hand_over,
    ok,
)
from tests.release.port import Port, audit_types, make_port, unchanged

PERIOD = {"since": "2000-01-01T00:00:00Z", "until": "2100-01-01T00:00:00Z"}


def policy_path(port: Port, terminal: str = "terminal") -> str:
    return f"/v1/inspections/policies/{port[terminal].id}"


async def set_policy(port: Port, **policy: Any) -> Any:
    return await port.client.put(policy_path(port), json=policy, headers=port["security"].headers)


async def ask(port: Port, chain: Chain, carrier: str = "carrier") -> dict[str, Any]:
    assert chain.driver is not None
    return await ask_gate(
        port, chain.container, gate_pass=await gate_pass(port, carrier, chain.driver)
    )


async def draw_of(port: Port, draw_id: str) -> dict[str, Any]:
    response = await port.client.get(
        f"/v1/inspections/draws/{draw_id}", headers=port["security"].headers
    )
    found: dict[str, Any] = ok(response)
    return found


async def alerts(port: Port) -> list[dict[str, Any]]:
    response = await port.client.get("/v1/alerts", params=PERIOD, headers=port["security"].headers)
    found: list[dict[str, Any]] = ok(response)["alerts"]
    return found


async def test_a_terminal_draws_under_the_default_until_port_security_sets_a_policy(
    port: Port,
) -> None:
    default = ok(await port.client.get(policy_path(port), headers=port["customs"].headers))
    assert (default["version"], default["set_by"], default["used_today"]) == (0, None, 0)

    view = ok(await set_policy(port, base=0.05, floor=0.01, weights={"first_pickup": 4.0}))
    assert (view["version"], view["base"], view["floor"]) == (1, 0.05, 0.01)
    assert view["weights"] == {"first_pickup": 4.0}
    assert view["set_by"] is not None
    again = ok(await set_policy(port, base=0.03, floor=0.01))
    assert again["version"] == 2 and again["weights"] == {}
    assert (await audit_types(port.release)).count("inspection.policy_set") == 2


async def test_the_pickups_factors_weigh_the_draw_and_are_named_in_it(port: Port) -> None:
    ok(
        await set_policy(
            port,
            base=0.01,
            floor=0.01,
            weights={"first_pickup": 7.0, "new_carrier": 3.0, "declared_origin": 2.0},
            origins=["CO"],
        )
    )
    chain = await full_chain(port, path=("forwarder", "carrier"))
    decision = await ask(port, chain)
    drawn = await draw_of(port, decision["draw_id"])
    subject = drawn["alpha_object"]["subject"]
    # A driver's first pickup, for a carrier that first received a step today.
    assert subject["factors"] == ["first_pickup", "new_carrier"]
    assert subject["policy"] == 1
    assert drawn["probability"] == pytest.approx(0.01 * 7.0 * 3.0)


async def test_a_declared_origin_the_policy_names_is_a_factor(port: Port) -> None:
    ok(await set_policy(port, base=0.01, floor=0.01, origins=["CO"], new_carrier_days=0))
    chain = await create_release(port, custodial=True, to="carrier", origin="CO")
    await accept(port, chain, 0, "carrier", custodial=True)
    await assign(port, chain, "carrier", await port.driver("carrier"))
    decision = await ask(port, chain)
    drawn = await draw_of(port, decision["draw_id"])
    assert "declared_origin" in drawn["alpha_object"]["subject"]["factors"]
    assert drawn["probability"] == pytest.approx(0.01)  # no multiplier set: it counts once


async def test_a_long_chain_and_a_reassigned_driver_are_factors(port: Port) -> None:
    ok(
        await set_policy(
            port,
            base=0.01,
            floor=0.01,
            long_chain_links=2,
            weights={"long_chain": 2.0, "driver_reassigned": 5.0},
        )
    )
    chain = await create_release(port, to="forwarder")
    await accept(port, chain, 0, "forwarder")
    seq = await hand_over(port, chain, "forwarder", "carrier")
    await accept(port, chain, seq, "carrier")
    # An assignment the driver has not accepted yet, withdrawn: another driver gets it.
    first = len(chain.links)
    body = {"kind": "assignment", "to": str((await port.driver("carrier")).id)}
    base = f"/v1/releases/{chain.release_id}/links"
    headers = await port.person_headers("carrier")
    ok(await port.client.post(base, json=body, headers=headers), 201)
    ok(await port.client.post(f"{base}/{first}/withdraw", headers=headers))
    await assign(port, chain, "carrier", await port.driver("carrier"))
    decision = await ask(port, chain)
    drawn = await draw_of(port, decision["draw_id"])
    factors = drawn["alpha_object"]["subject"]["factors"]
    assert {"long_chain", "driver_reassigned"} <= set(factors)
    assert drawn["probability"] == pytest.approx(0.01 * 2.0 * 5.0)


@pytest.mark.parametrize(
    ("policy", "code"),
    [
        ({"base": 0.02, "floor": 0.0}, "floor_too_low"),
        ({"base": 0.02, "floor": 0.0005}, "floor_too_low"),
        ({"base": 0.01, "floor": 0.02}, "floor_above_base"),
        ({"base": 0.02, "floor": 0.01, "weights": {"new_carrier": 0.5}}, "weight_invalid"),
        ({"base": 0.02, "floor": 0.01, "weights": {"new_carrier": 5000}}, "weight_invalid"),
    ],
)
async def test_a_policy_that_would_leave_a_container_unselectable_is_refused(
    port: Port, policy: dict[str, Any], code: str
) -> None:
    async with unchanged(port.release):
        assert_problem(await set_policy(port, **policy), 422, code)


@pytest.mark.parametrize(
    "policy",
    [
        {"base": 0.02, "floor": 0.01, "weights": {"carrier_is_a_friend": 0.0}},
        {"base": 0.02, "floor": 0.01, "origins": ["co"]},
        {"base": 1.5, "floor": 0.01},
        {"base": 0.02, "floor": 0.01, "daily_capacity": -1},
        {"base": 0.02, "floor": 0.01, "surprise": True},
    ],
)
async def test_a_malformed_policy_is_refused_and_changes_nothing(
    port: Port, policy: dict[str, Any]
) -> None:
    async with unchanged(port.release):
        response = await set_policy(port, **policy)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_a_selection_over_the_days_capacity_is_recorded_and_alerted(
    make_settings: SettingsFactory,
) -> None:
    async with make_port(make_settings, inspect_probability=1.0) as port:
        ok(await set_policy(port, base=1.0, floor=1.0, daily_capacity=1))
        first_chain = await full_chain(port, path=("forwarder", "carrier"))
        first = await ask(port, first_chain)
        assert first["decision"] == "inspect"

        second_chain = await full_chain(port, path=("forwarder", "carrier"))
        second = await ask(port, second_chain)
        # The terminal cannot inspect it today: the box goes, but nothing is dropped.
        assert second["decision"] == "release", second
        assert second["inspection_id"] is not None
        drawn = await draw_of(port, second["draw_id"])
        assert drawn["selected"] is True
        over = ok(
            await port.client.get(
                "/v1/inspections",
                params={"status": "over_capacity"},
                headers=port["security"].headers,
            )
        )["inspections"]
        assert [item["inspection_id"] for item in over] == [second["inspection_id"]]
        [alert] = await alerts(port)
        assert alert["kind"] == "inspection_over_capacity"
        assert alert["facts"]["container"] == second_chain.container
        assert alert["facts"]["draw_id"] == second["draw_id"]
        view = ok(await port.client.get(policy_path(port), headers=port["security"].headers))
        assert view["used_today"] == 1
        # Asked again, it is not drawn afresh: the over-capacity selection stands.
        again = await ask(port, second_chain)
        assert again["decision"] == "release" and again["draw_id"] == second["draw_id"]


async def test_a_finding_raises_an_alert_with_its_facts(make_settings: SettingsFactory) -> None:
    async with make_port(make_settings, inspect_probability=1.0) as port:
        chain = await full_chain(port, path=("forwarder", "carrier"))
        first = await ask(port, chain)
        found = await port.client.post(
            f"/v1/inspections/{first['inspection_id']}/outcome",
            json={"outcome": "seizure"},
            headers=port["customs"].headers,
        )
        ok(found)
        [alert] = await alerts(port)
        assert alert["kind"] == "inspection_seizure"
        assert alert["facts"]["inspection_id"] == first["inspection_id"]
        assert alert["severity"] == "high"
        # The same facts are in the audit log, in the event that raised the alert.
        types = await audit_types(port.release)
        assert "alert.raised" in types and "inspection.closed" in types


async def test_a_terminals_first_draw_logs_the_default_as_its_first_version(
    port: Port,
) -> None:
    chain = await full_chain(port, path=("forwarder", "carrier"))
    decision = await ask(port, chain)
    drawn = await draw_of(port, decision["draw_id"])
    assert drawn["alpha_object"]["subject"]["policy"] == 1
    versions = ok(
        await port.client.get(f"{policy_path(port)}/versions", headers=port["customs"].headers)
    )["versions"]
    [first] = versions
    assert (first["version"], first["set_by"]) == (1, "default")
    logged = json.loads(first["logged_event"])
    assert logged["type"] == "inspection.policy_set"
    assert (logged["base"], logged["floor"]) == (first["base"], first["floor"])
    # The next version port security sets follows it.
    assert ok(await set_policy(port, base=0.05, floor=0.01))["version"] == 2
    second = await ask(port, await full_chain(port, path=("forwarder", "carrier")))
    assert (await draw_of(port, second["draw_id"]))["alpha_object"]["subject"]["policy"] == 2


async def test_policy_versions_are_for_overseers_only(port: Port) -> None:
    for member in ("terminal", "carrier"):
        response = await port.client.get(
            f"{policy_path(port)}/versions", headers=port[member].headers
        )
        assert response.status_code == 403, member
