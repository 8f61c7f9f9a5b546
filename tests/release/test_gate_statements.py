"""The gate's hot path stays a handful of SQL statements (a count, not a timing: each
statement is a round trip and CPU in the release service, and at a busy gate the CPU is the
limit).

A releasing decision spends the gate pass, reads the open release with its chain, reads
what the inspections know with the log's latest checkpoint (one statement) and the
terminal's policy with the pickup's history (one), writes the draw (at once: its unique
visit refuses a second draw), and at the commit two audit events, the decision and one
outbox event announcing it to webhook subscribers (`shared.db.insert_at_commit`: one
statement on PostgreSQL, one each on SQLite, where a statement is no round trip): 6 on
PostgreSQL, 9 on SQLite (4 before inspections, 8 before webhooks, 9 before the rows at
the commit went together).

A gate-out claims the decision, reads the open release with its chain again (the chain is
verified again), marks the release picked up, inserts the gate-out once, and at the commit
its audit event and outbox event: 5 on PostgreSQL, 6 on SQLite. If a change adds a
statement here, it should say why in these numbers.

A decision also stores each status-list token it judged with, once: an `INSERT … ON
CONFLICT DO NOTHING` per token the app has not seen committed yet (the first decision here,
and after the identity service re-signs a list). The warm path counted here writes none.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event

from tests.release.chains import Chain, ask_gate, full_chain, gate_pass
from tests.release.port import Port

MOST_STATEMENTS_PER_RELEASING_DECISION = {"postgresql": 6, "sqlite": 9}
MOST_STATEMENTS_PER_GATE_OUT = {"postgresql": 5, "sqlite": 6}


@contextmanager
def counted(port: Port) -> Iterator[list[str]]:
    statements: list[str] = []
    engine = port.release.state.engine.sync_engine

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement.split(None, 1)[0].upper())

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


async def decide(port: Port, chain: Chain) -> dict[str, Any]:
    assert chain.driver is not None
    token = await gate_pass(port, "carrier", chain.driver)
    return await ask_gate(port, chain.container, gate_pass=token)


async def test_a_releasing_decision_takes_few_statements(port: Port) -> None:
    # The terminal's first draw stores its default policy: not the common path.
    await decide(port, await full_chain(port, path=("forwarder", "carrier")))
    chain = await full_chain(port, path=("forwarder", "carrier"))
    with counted(port) as statements:
        decision = await decide(port, chain)
    assert decision["decision"] == "release" and decision["draw_id"] is not None
    assert len(_work(statements)) <= MOST_STATEMENTS_PER_RELEASING_DECISION[_dialect(port)], (
        statements
    )


async def test_a_gate_out_takes_few_statements(port: Port) -> None:
    await decide(port, await full_chain(port, path=("forwarder", "carrier")))
    decision = await decide(port, await full_chain(port, path=("forwarder", "carrier")))
    with counted(port) as statements:
        response = await port.client.post(
            f"/v1/gate/decisions/{decision['decision_id']}/complete",
            headers=port["terminal"].headers,
        )
    assert response.status_code == 200, response.text
    assert len(_work(statements)) <= MOST_STATEMENTS_PER_GATE_OUT[_dialect(port)], statements


def _work(statements: list[str]) -> list[str]:
    return [s for s in statements if s not in ("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE")]


def _dialect(port: Port) -> str:
    name: str = port.release.state.engine.dialect.name
    return name
