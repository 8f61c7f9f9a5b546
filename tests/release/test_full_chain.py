"""The whole flow: shipping line -> forwarder -> forwarder -> carrier -> subcontractor -> driver,
released at the gate and picked up once."""

import pytest

from tests.release.chains import ask_gate, full_chain, gate_pass, ok
from tests.release.port import Port, audit_types


@pytest.mark.parametrize("custodial", [False, True], ids=["pre-signed", "custodial"])
async def test_full_chain_is_released_at_the_gate_and_picked_up_once(
    port: Port, custodial: bool
) -> None:
    chain = await full_chain(port, custodial=custodial)
    assert chain.driver is not None
    verified = ok(
        await port.client.get(
            f"/v1/releases/{chain.release_id}/chain", headers=port["security"].headers
        )
    )
    assert verified["verified"] and verified["complete"], verified
    assert [link["result"] for link in verified["links"]] == ["ok"] * 5
    assert verified["driver"] == str(chain.driver.id)

    decision = await ask_gate(
        port, chain.container, gate_pass=await gate_pass(port, "sub", chain.driver)
    )
    assert decision["decision"] == "release", decision
    assert decision["reasons"] == []
    assert decision["release_id"] == str(chain.release_id)

    done = ok(
        await port.client.post(
            f"/v1/gate/decisions/{decision['decision_id']}/complete",
            headers=port["terminal"].headers,
        )
    )
    assert done["release_id"] == str(chain.release_id)
    view = ok(
        await port.client.get(f"/v1/releases/{chain.release_id}", headers=port["terminal"].headers)
    )
    assert view["status"] == "picked_up"

    again = await port.client.post(
        f"/v1/gate/decisions/{decision['decision_id']}/complete", headers=port["terminal"].headers
    )
    assert again.status_code == 409
    later = await ask_gate(
        port, chain.container, gate_pass=await gate_pass(port, "sub", chain.driver)
    )
    assert later["decision"] == "deny"
    assert [r["code"] for r in later["reasons"]] == ["already_picked_up"]
    types = await audit_types(port.release)
    assert types.count("gate.completed") == 1
    assert types[:2] == ["yard.announced", "release.created"]
