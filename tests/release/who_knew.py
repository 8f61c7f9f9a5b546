"""Helpers of the who-knew tests: a container picked up through the whole chain."""

from typing import Any

from tests.release.chains import Chain, ask_gate, full_chain, gate_pass, ok
from tests.release.port import Port

PATH = "/v1/investigations/containers/{}/who-knew"


async def pick_up(port: Port, chain: Chain) -> dict[str, Any]:
    """The driver at the end of the chain takes the container out of the terminal."""
    assert chain.driver is not None
    decision = await ask_gate(
        port, chain.container, gate_pass=await gate_pass(port, "sub", chain.driver)
    )
    assert decision["decision"] == "release", decision
    return ok(
        await port.client.post(
            f"/v1/gate/decisions/{decision['decision_id']}/complete",
            headers=port["terminal"].headers,
        )
    )


async def picked_up(port: Port) -> Chain:
    """A container released through the whole chain and picked up."""
    chain = await full_chain(port)
    await pick_up(port, chain)
    return chain


async def who_knew(port: Port, container: str, **params: Any) -> dict[str, Any]:
    """Port security's answer, every page of it."""
    officer = await port.person_headers("security", "officer")
    entries: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        page = ok(await port.client.get(PATH.format(container), params=query, headers=officer))
        entries.extend(page["entries"])
        cursor = page["next"]
        if cursor is None:
            return {**page, "entries": entries}
