"""The gate's hot path stays a handful of SQL statements (a count, not a timing: each
statement is CPU in the release service, and at 100 decisions/s the CPU is the limit).

A releasing decision spends the gate pass, reads the open release with its chain, reads
what the inspections know with the log's latest checkpoint (one statement) and the
terminal's policy with the pickup's history (one), writes two audit events, the draw and
the decision, and one outbox event announcing the decision to webhook subscribers (written
in the same transaction, so nothing is announced that did not happen: docs/webhooks.md):
9 (4 before inspections, 8 before webhooks). If a change adds a statement here, it should
say why in this number.

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

MOST_STATEMENTS_PER_RELEASING_DECISION = 9


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
    work = [s for s in statements if s not in ("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE")]
    assert len(work) <= MOST_STATEMENTS_PER_RELEASING_DECISION, statements
