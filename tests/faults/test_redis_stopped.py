"""Redis stops while the port works, and comes back.

Redis is a cache, never the source of truth (design invariant 6): with it gone the gate
keeps deciding, a gate pass and a client assertion are still accepted once only, a gate-out
is still completed once only (the database decides all three), readiness reports
`degraded` instead of taking every replica out of the load balancer, and when Redis returns
the services use it again without a restart.
"""

import time
from typing import Any

import httpx

from tests.faults.load import Ledger, check_nothing_lost, pickup
from tests.faults.report import report
from tests.faults.servers import PrivatePostgres, PrivateRedis
from tests.identity.oauth_factories import request_token, sign_assertion
from tests.release.chains import Chain, full_chain, gate_pass
from tests.release.port import Port

RECOVERY_BOUND_SECONDS = 60


async def readiness(client: httpx.AsyncClient) -> tuple[int, dict[str, Any]]:
    """The status and body of /readyz."""
    response = await client.get("/readyz")
    body: dict[str, Any] = response.json()
    return response.status_code, body


async def until_ready(client: httpx.AsyncClient) -> float:
    """Poll readiness (bounded) until it says ready; return when it did."""
    deadline = time.monotonic() + RECOVERY_BOUND_SECONDS
    while time.monotonic() < deadline:
        status, body = await readiness(client)
        if status == 200 and body["status"] == "ready":
            return time.monotonic()
    raise AssertionError(f"not ready {RECOVERY_BOUND_SECONDS} s after Redis returned")


async def test_without_redis_the_gate_still_decides_once_and_readiness_says_degraded(
    fault_port: Port, servers: tuple[PrivatePostgres, PrivateRedis]
) -> None:
    _, redis = servers
    port = fault_port
    chains = [await full_chain(port, path=("forwarder", "carrier")) for _ in range(3)]
    before, during, after = chains
    ledger = Ledger()
    await pickup(port, port.client, before, ledger, carrier="carrier")

    redis.stop()
    down = time.monotonic()

    for client in (port.client, port.identity_client):
        status, body = await readiness(client)
        assert status == 200, body
        assert body == {"status": "degraded", "checks": {"database": True, "cache": False}}

    await pickup(port, port.client, during, ledger, carrier="carrier")
    await _replays_are_refused(port, during, ledger)

    redis.start()
    up = time.monotonic()
    ready = max([await until_ready(port.client), await until_ready(port.identity_client)])
    await pickup(port, port.client, after, ledger, carrier="carrier")

    await check_nothing_lost(port, ledger, chains)
    assert ledger.server_errors() == {}, ledger.statuses
    assert not ledger.errors, ledger.errors
    report(
        "redis_stopped",
        pickups=len(chains),
        acknowledged_gate_outs=len(ledger.completed),
        lost=0,
        redis_down_seconds=round(up - down, 3),
        ready_again_seconds_after_restart=round(ready - up, 3),
        answers=dict(ledger.statuses),
    )


async def _replays_are_refused(port: Port, chain: Chain, ledger: Ledger) -> None:
    """A gate pass, a gate-out and a client assertion, each used twice: the second refused."""
    assert chain.driver is not None
    proof = await gate_pass(port, "carrier", chain.driver)
    first = await port.client.post(
        "/v1/gate/decisions",
        json={"container": chain.container, "gate_pass": proof},
        headers=port["terminal"].headers,
    )
    again = await port.client.post(
        "/v1/gate/decisions",
        json={"container": chain.container, "gate_pass": proof},
        headers=port["terminal"].headers,
    )
    assert first.status_code == again.status_code == 201
    # The container is out already, and the pass was spent by the first question.
    assert again.json()["decision"] == "deny"
    codes = {reason["code"] for reason in again.json()["reasons"]}
    assert "gate_pass_replayed" in codes, again.json()

    completed = next(iter(ledger.completed))
    second = await port.client.post(
        f"/v1/gate/decisions/{completed}/complete", headers=port["terminal"].headers
    )
    assert second.status_code == 409

    member = port["carrier"]
    settings = port.identity.state.settings
    assertion = sign_assertion(member.key, member.id, settings.issuer, int(time.time()))
    assert (await request_token(port.identity_client, assertion)).status_code == 200
    replayed = await request_token(port.identity_client, assertion)
    assert replayed.status_code in (400, 401), replayed.text
