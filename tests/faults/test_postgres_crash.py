"""PostgreSQL crashes in the middle of a gate load and comes back.

Both services lose every connection at once (an immediate stop: no checkpoint, sessions
cut). They must recover by themselves, answer the outage with 503 problem documents rather
than 500s, lose no decision or gate-out they acknowledged, let no container out twice, and
keep an audit log that verifies, the sequencer carrying on where it stopped.
"""

import asyncio
import time

from tests.faults.load import Ledger, check_nothing_lost, run_lanes, verified_log_size
from tests.faults.report import report
from tests.faults.servers import PrivatePostgres, PrivateRedis
from tests.release.chains import full_chain
from tests.release.port import Port

PICKUPS = 16
LANES = 4
CRASH_AFTER = 5  # gate-outs confirmed before PostgreSQL goes down


async def test_a_postgres_crash_during_gate_load_loses_nothing_acknowledged(
    fault_port: Port, servers: tuple[PrivatePostgres, PrivateRedis]
) -> None:
    postgres, _ = servers
    port = fault_port
    chains = [await full_chain(port, path=("forwarder", "carrier")) for _ in range(PICKUPS)]
    ledger = Ledger(milestone=CRASH_AFTER)

    async def crash_when_busy() -> tuple[float, float]:
        await ledger.reached.wait()
        down = time.monotonic()
        await asyncio.to_thread(postgres.crash)
        await asyncio.to_thread(postgres.start)
        return down, time.monotonic()

    crash = asyncio.create_task(crash_when_busy())
    await run_lanes(port, port.client, chains, ledger, lanes=LANES)
    down, up = await crash

    await check_nothing_lost(port, ledger, chains)
    assert ledger.server_errors() == {}, f"answers during the outage: {ledger.statuses}"
    assert not ledger.errors, f"requests that got no answer: {ledger.errors}"
    size = await verified_log_size(port)

    first = ledger.first_success_since(up)
    assert first is not None
    report(
        "postgres_crash",
        pickups=PICKUPS,
        acknowledged_decisions=len(ledger.decisions),
        acknowledged_gate_outs=len(ledger.completed),
        lost=0,
        outage_seconds=round(up - down, 3),
        recovery_seconds_after_restart=round(first - up, 3),
        answers=dict(ledger.statuses),
        log_size=size,
    )
