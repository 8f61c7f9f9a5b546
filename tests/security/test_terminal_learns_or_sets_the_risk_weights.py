"""Threat: a terminal planner (or a carrier's dispatcher) reads the risk weights to learn
which pickups to avoid looking like, or changes them so his friends' boxes are never drawn.

Only the overseers read a terminal's policy, only port security sets it, and whoever is
refused changes nothing.
"""

import pytest

from tests.helpers import assert_problem
from tests.release.port import Port, audit_types, unchanged

POLICY = {"base": 0.02, "floor": 0.01, "weights": {"new_carrier": 5.0}}


def path(port: Port) -> str:
    return f"/v1/inspections/policies/{port['terminal'].id}"


@pytest.mark.parametrize("member", ["terminal", "carrier", "line", "forwarder"])
async def test_parties_outside_oversight_neither_read_nor_set_a_policy(
    port: Port, member: str
) -> None:
    headers = port[member].headers
    assert (await port.client.get(path(port), headers=headers)).status_code == 403
    async with unchanged(port.release):
        assert (await port.client.put(path(port), json=POLICY, headers=headers)).status_code == 403


async def test_a_terminal_operator_in_person_is_refused_too(port: Port) -> None:
    operator = await port.person_headers("terminal", role="operator")
    assert (await port.client.get(path(port), headers=operator)).status_code == 403
    async with unchanged(port.release):
        refused = await port.client.put(path(port), json=POLICY, headers=operator)
    assert refused.status_code == 403


async def test_customs_reads_the_policy_but_only_port_security_sets_it(port: Port) -> None:
    assert (await port.client.get(path(port), headers=port["customs"].headers)).status_code == 200
    async with unchanged(port.release):
        by_customs = await port.client.put(path(port), json=POLICY, headers=port["customs"].headers)
    assert by_customs.status_code == 403
    assert (
        await port.client.put(path(port), json=POLICY, headers=port["security"].headers)
    ).status_code == 200
    assert "inspection.policy_set" in await audit_types(port.release)


async def test_port_security_cannot_whitelist_a_factor_or_zero_the_floor(port: Port) -> None:
    """Even port security's own insider cannot make a container unselectable by policy."""
    security = port["security"].headers
    async with unchanged(port.release):
        whitelist = {"base": 0.02, "floor": 0.01, "weights": {"new_carrier": 0.0}}
        assert_problem(
            await port.client.put(path(port), json=whitelist, headers=security),
            422,
            "weight_invalid",
        )
        zero = {"base": 0.0, "floor": 0.0}
        assert_problem(
            await port.client.put(path(port), json=zero, headers=security), 422, "floor_too_low"
        )
