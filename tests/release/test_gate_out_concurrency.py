"""Invariant 1: a release is completed at most once, even with many replicas at once."""

import asyncio
import multiprocessing
from collections import Counter

import pytest

from tests.release.chains import ask_gate, full_chain, gate_pass
from tests.release.gate_out_worker import complete_many
from tests.release.port import Port, audit_types

PROCESSES = 5
REQUESTS_EACH = 10


@pytest.mark.postgres
async def test_fifty_concurrent_gate_outs_on_several_processes_succeed_once(port: Port) -> None:
    chain = await full_chain(port, path=("forwarder", "carrier"))
    assert chain.driver is not None
    decision = await ask_gate(
        port, chain.container, gate_pass=await gate_pass(port, "carrier", chain.driver)
    )
    assert decision["decision"] == "release"
    path = f"/v1/gate/decisions/{decision['decision_id']}/complete"

    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(PROCESSES)
    results = context.Queue()
    workers = [
        context.Process(
            target=complete_many,
            args=(
                port.identity.state.settings,
                port.release.state.settings,
                path,
                port["terminal"].headers,
                REQUESTS_EACH,
                barrier,
                results,
            ),
        )
        for _ in range(PROCESSES)
    ]
    for worker in workers:
        worker.start()
    statuses: Counter[int] = Counter()
    for _ in workers:
        statuses.update(await asyncio.to_thread(results.get, True, 120))
    for worker in workers:
        await asyncio.to_thread(worker.join, 30)
        assert worker.exitcode == 0

    assert statuses == Counter({200: 1, 409: PROCESSES * REQUESTS_EACH - 1})
    assert (await audit_types(port.release)).count("gate.completed") == 1
