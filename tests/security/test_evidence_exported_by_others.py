"""Threat: a party of the chain, the terminal or customs downloads a release's evidence
bundle, and with it every party's credentials, the chain's signatures and the draws.

The bundle is port security's alone: everyone else is refused (403, as on port security's
other routes), and nothing is exported or logged as exported.
"""

import pytest

from tests.audit_helpers import integrate_all
from tests.helpers import assert_problem
from tests.release.evidence_bundles import picked_up
from tests.release.port import Port, audit_types


@pytest.mark.parametrize("member", ["line", "forwarder", "carrier", "sub", "terminal", "customs"])
async def test_only_port_security_exports_evidence(port: Port, member: str) -> None:
    chain = await picked_up(port)
    await integrate_all(port.release)
    path = f"/v1/releases/{chain.release_id}/evidence"
    assert_problem(await port.client.get(path, headers=port[member].headers), 403, "role_required")
    people = await port.person_headers(member, "officer" if member == "customs" else "dispatcher")
    assert_problem(await port.client.get(path, headers=people), 403, "role_required")
    assert "evidence.exported" not in await audit_types(port.release)


async def test_the_driver_of_the_chain_cannot_export_it(port: Port) -> None:
    chain = await picked_up(port)
    assert chain.driver is not None
    await integrate_all(port.release)
    response = await port.client.get(
        f"/v1/releases/{chain.release_id}/evidence",
        headers=await port.driver_headers("sub", chain.driver),
    )
    assert_problem(response, 403, "role_required")
    assert "evidence.exported" not in await audit_types(port.release)


async def test_without_a_token_the_export_is_401(port: Port) -> None:
    chain = await picked_up(port)
    response = await port.client.get(f"/v1/releases/{chain.release_id}/evidence")
    assert_problem(response, 401, "token_missing")


async def test_a_port_security_officer_exports_it(port: Port) -> None:
    chain = await picked_up(port)
    await integrate_all(port.release)
    response = await port.client.get(
        f"/v1/releases/{chain.release_id}/evidence",
        headers=await port.person_headers("security", "officer"),
    )
    assert response.status_code == 200, response.text
