"""PostgreSQL crashes in the middle of a gate load and comes back.

Both services lose every connection at once (an immediate stop: no checkpoint, sessions
cut). They must recover by themselves, answer the outage with 503 problem documents rather
than 500s, lose no decision or gate-out they acknowledged, let no container out twice, and
keep an audit log that verifies, the sequencer carrying on where it stopped.
"""

import asyncio
import time

import httpx

from shared.audit.verify import verify_log
from tests.faults.load import Ledger, check_nothing_lost, pickup, stored
from tests.faults.report import report
from tests.faults.servers import PrivatePostgres, PrivateRedis
from tests.release.chains import full_chain
from tests.release.port import Port

PICKUPS = 16
LANES = 4
CRASH_AFTER = 5  # gate-outs confirmed before PostgreSQL goes down


async def until_log_integrates_everything(port: Port) -> int:
    """Wait (bounded) until the sequencer has integrated every event; return the size."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        pending = await stored(port, "SELECT count(*) FROM audit_events WHERE log_index IS NULL")
        signed = await stored(port, "SELECT max(size) FROM audit_checkpoints")
        total = await stored(port, "SELECT count(*) FROM audit_events")
        if pending[0][0] == 0 and signed[0][0] == total[0][0]:
            return int(total[0][0])
        port.release.state.sequencer.wake()
        await asyncio.sleep(0.1)
    raise AssertionError("the sequencer did not integrate and sign every event within 60 s")


async def test_a_postgres_crash_during_gate_load_loses_nothing_acknowledged(
    fault_port: Port, servers: tuple[PrivatePostgres, PrivateRedis]
) -> None:
    postgres, _ = servers
    port = fault_port
    chains = [await full_chain(port, path=("forwarder", "carrier")) for _ in range(PICKUPS)]
    ledger = Ledger(milestone=CRASH_AFTER)
    queue: asyncio.Queue[int] = asyncio.Queue()
    for index in range(PICKUPS):
        queue.put_nowait(index)

    async def lane() -> None:
        while not queue.empty():
            chain = chains[queue.get_nowait()]
            await pickup(port, port.client, chain, ledger, carrier="carrier")

    async def crash_when_busy() -> tuple[float, float]:
        await ledger.reached.wait()
        down = time.monotonic()
        await asyncio.to_thread(postgres.crash)
        await asyncio.to_thread(postgres.start)
        return down, time.monotonic()

    crash = asyncio.create_task(crash_when_busy())
    await asyncio.gather(*(lane() for _ in range(LANES)))
    down, up = await crash

    await check_nothing_lost(port, ledger, chains)
    assert ledger.server_errors() == {}, f"answers during the outage: {ledger.statuses}"
    assert not ledger.errors, f"requests that got no answer: {ledger.errors}"
    size = await until_log_integrates_everything(port)
    settings = port.release.state.settings
    verified = await verify_log(
        "http://testserver",
        port.release.state.audit_log.verifier_key,
        database_url=settings.database_url,
        database_schema=settings.database_schema,
        transport=httpx.ASGITransport(app=port.release),
    )
    assert verified.size == size

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
