"""Threat: a terminal operator (or the driver's carrier) makes a selected container go anyway.

Before verifiable draws, an operator who got `inspect` simply asked again with a fresh gate
pass and got `release` 98% of the time. Now a selection sticks to the container until an
officer records its outcome: asking again, a new gate pass, a new release for the same
container, or completing the `inspect` decision all meet the open inspection, and nothing
is drawn afresh.
"""

from typing import Any

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
from tests.release.port import Port, make_port


async def ask(port: Port, chain: Chain) -> dict[str, Any]:
    assert chain.driver is not None
    return await ask_gate(
        port, chain.container, gate_pass=await gate_pass(port, "carrier", chain.driver)
    )


async def draw_count(port: Port) -> int:
    response = await port.client.get(
        "/v1/inspections/draws",
        params={"since": "2000-01-01T00:00:00Z", "until": "2100-01-01T00:00:00Z"},
        headers=port["security"].headers,
    )
    return len(ok(response)["draws"])


async def test_asking_again_or_completing_anyway_meets_the_open_inspection(
    make_settings: SettingsFactory,
) -> None:
    async with make_port(make_settings, inspect_probability=1.0) as port:
        chain = await full_chain(port, path=("forwarder", "carrier"))
        selected = await ask(port, chain)
        assert selected["decision"] == "inspect"
        for _ in range(3):
            again = await ask(port, chain)
            assert (again["decision"], again["inspection_id"]) == (
                "inspect",
                selected["inspection_id"],
            )
        completed = await port.client.post(
            f"/v1/gate/decisions/{selected['decision_id']}/complete",
            headers=port["terminal"].headers,
        )
        assert_problem(completed, 409, "inspection_pending")
        # The driver's carrier cannot swap the driver to start over: the gate has decided.
        withdrawn = await port.client.post(
            f"/v1/releases/{chain.release_id}/links/{len(chain.links) - 1}/withdraw",
            headers=port["carrier"].headers,
        )
        assert withdrawn.status_code == 409, withdrawn.text
        assert await draw_count(port) == 1


async def test_a_new_release_for_the_same_container_meets_the_open_inspection(
    make_settings: SettingsFactory,
) -> None:
    async with make_port(make_settings, inspect_probability=1.0) as port:
        chain = await full_chain(port, path=("forwarder", "carrier"))
        selected = await ask(port, chain)
        cancelled = await port.client.post(
            f"/v1/releases/{chain.release_id}/cancel", headers=port["line"].headers
        )
        assert cancelled.status_code == 200, cancelled.text
        second = await create_release(
            port, container=chain.container, to="forwarder", announced=True
        )
        assert second.release_id != chain.release_id
        redone = await full_chain_from(port, second)
        answer = await ask(port, redone)
        assert answer["decision"] == "inspect"
        assert answer["inspection_id"] == selected["inspection_id"]
        assert [reason["code"] for reason in answer["reasons"]] == ["inspection_open"]
        assert await draw_count(port) == 1


async def full_chain_from(port: Port, chain: Chain) -> Chain:
    """The rest of a short chain (forwarder -> carrier -> driver) after its release."""
    await accept(port, chain, 0, "forwarder")
    seq = await hand_over(port, chain, "forwarder", "carrier")
    await accept(port, chain, seq, "carrier")
    await assign(port, chain, "carrier", await port.driver("carrier"))
    return chain
