"""Threat: the one who wants the container out records its inspection as done.

An official once marked a container "checked by the dog" before the ship had arrived. An
outcome is recorded only by customs or port security (a person among them: an officer),
never by the person or client that asked for the gate decision that selected the
container, not even when its party holds both the terminal and the customs role; and
once recorded it cannot be recorded again. Whoever may not see an inspection cannot
learn that it exists.
"""

from typing import Any

from tests.conftest import SettingsFactory
from tests.helpers import assert_problem
from tests.release.chains import Chain, full_chain, gate_pass, ok
from tests.release.port import Port, add_member, make_port


async def selected(port: Port, terminal: str = "terminal") -> tuple[Chain, dict[str, Any]]:
    chain = await full_chain(port, path=("forwarder", "carrier"), terminal=terminal)
    assert chain.driver is not None
    response = await port.client.post(
        "/v1/gate/decisions",
        json={
            "container": chain.container,
            "gate_pass": await gate_pass(port, "carrier", chain.driver),
        },
        headers=port[terminal].headers,
    )
    decision = ok(response, 201)
    assert decision["decision"] == "inspect", decision
    return chain, decision


def record(inspection_id: str, result: str = "clear") -> tuple[str, dict[str, str]]:
    return f"/v1/inspections/{inspection_id}/outcome", {"outcome": result}


async def test_the_client_that_asked_cannot_clear_even_with_a_customs_role(
    make_settings: SettingsFactory,
) -> None:
    async with make_port(make_settings, inspect_probability=1.0) as port:
        port.members["dual"] = await add_member(
            port.identity, "terminal", "customs", name="Terminal and customs"
        )
        _, decision = await selected(port, terminal="dual")
        path, body = record(decision["inspection_id"])
        own = await port.client.post(path, json=body, headers=port["dual"].headers)
        assert_problem(own, 403, "inspector_is_requester")
        # Another officer may, once.
        cleared = await port.client.post(path, json=body, headers=port["customs"].headers)
        assert ok(cleared)["status"] == "clear"
        twice = await port.client.post(path, json=body, headers=port["security"].headers)
        assert_problem(twice, 409, "inspection_closed")


async def test_only_customs_and_port_security_officers_record_outcomes(
    make_settings: SettingsFactory,
) -> None:
    async with make_port(make_settings, inspect_probability=1.0) as port:
        _, decision = await selected(port)
        path, body = record(decision["inspection_id"])
        for name in ("terminal", "carrier", "line", "forwarder"):
            refused = await port.client.post(path, json=body, headers=port[name].headers)
            assert refused.status_code == 403, (name, refused.text)
        clerk = await port.person_headers("customs", role="dispatcher")
        assert (await port.client.post(path, json=body, headers=clerk)).status_code == 403
        officer = await port.person_headers("customs", role="officer")
        done = await port.client.post(path, json=body, headers=officer)
        assert ok(done)["status"] == "clear"


async def test_the_draws_and_other_terminals_inspections_stay_hidden(
    make_settings: SettingsFactory,
) -> None:
    async with make_port(make_settings, inspect_probability=1.0) as port:
        _, decision = await selected(port)
        period = {"since": "2000-01-01T00:00:00Z", "until": "2100-01-01T00:00:00Z"}
        for name in ("terminal", "customs", "carrier", "line"):
            draws = await port.client.get(
                "/v1/inspections/draws", params=period, headers=port[name].headers
            )
            assert draws.status_code == 403, (name, draws.text)
        other = await port.client.get(
            f"/v1/inspections/{decision['inspection_id']}",
            headers=port["other_terminal"].headers,
        )
        assert_problem(other, 404, "inspection_not_found")
        listed = ok(
            await port.client.get("/v1/inspections", headers=port["other_terminal"].headers)
        )
        assert listed["inspections"] == []
        carrier = await port.client.get("/v1/inspections", headers=port["carrier"].headers)
        assert carrier.status_code == 403
