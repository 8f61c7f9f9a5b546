"""Threat: a party up the chain undoes a step that the next party has already completed.

docs/design.md, Domain: a holder may withdraw its link while the next step has not been completed. A
bribed forwarder (or carrier) used to be able to withdraw its link after the receiver had
accepted and passed the right on, or after the driver had accepted his assignment, wiping
out the work of everyone below and, with a new link, steering the container to someone
else. Refused now with 409 `next_step_completed`, changing nothing.
"""

import httpx

from tests.helpers import assert_problem
from tests.release.chains import Chain, accept, assign, create_release, hand_over, ok
from tests.release.port import Port, audit_types, unchanged


async def to_carrier(port: Port) -> Chain:
    """Shipping line -> forwarder -> carrier, each accepted."""
    chain = await create_release(port)
    await accept(port, chain, 0, "forwarder")
    seq = await hand_over(port, chain, "forwarder", "carrier")
    await accept(port, chain, seq, "carrier")
    return chain


async def withdraw(port: Port, chain: Chain, seq: int, name: str) -> httpx.Response:
    """The member's client withdraws link `seq`."""
    return await port.client.post(
        f"/v1/releases/{chain.release_id}/links/{seq}/withdraw", headers=port[name].headers
    )


async def test_a_forwarder_cannot_withdraw_after_the_carrier_passed_the_release_on(
    port: Port,
) -> None:
    chain = await to_carrier(port)
    seq = await hand_over(port, chain, "carrier", "sub")
    await accept(port, chain, seq, "sub")
    async with unchanged(port.release):
        response = await withdraw(port, chain, 1, "forwarder")
    assert_problem(response, 409, "next_step_completed")


async def test_a_forwarder_cannot_undo_an_assignment_the_driver_accepted(port: Port) -> None:
    chain = await to_carrier(port)
    await assign(port, chain, "carrier", await port.driver("carrier"))
    async with unchanged(port.release):
        response = await withdraw(port, chain, 1, "forwarder")
    assert_problem(response, 409, "next_step_completed")


async def test_a_carrier_cannot_withdraw_an_assignment_its_driver_accepted(port: Port) -> None:
    chain = await to_carrier(port)
    seq = await assign(port, chain, "carrier", await port.driver("carrier"))
    async with unchanged(port.release):
        response = await withdraw(port, chain, seq, "carrier")
    assert_problem(response, 409, "next_step_completed")


async def test_a_step_not_yet_completed_may_still_be_withdrawn(port: Port) -> None:
    # The carrier accepted but has not passed the release on: the forwarder may take it back,
    # and with it the carrier's handover that the subcontractor has not accepted yet.
    chain = await to_carrier(port)
    await hand_over(port, chain, "carrier", "sub")
    withdrawn = ok(await withdraw(port, chain, 1, "forwarder"))
    assert withdrawn == {"withdrawn": [1, 2]}
    assert "link.withdrawn" in await audit_types(port.release)
