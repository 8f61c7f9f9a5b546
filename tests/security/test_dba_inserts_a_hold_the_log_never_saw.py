"""Threat: a database administrator inserts a hold row that nobody placed.

A hold stops a container at the gate: an invented one holds up a competitor's cargo with no
officer's name behind it. No `hold.placed` ever said so, so the reconciliation names the row
as one the log does not know.
"""

from tests.audit_helpers import integrate_all
from tests.release.port import Port
from tests.release.reconciliation import (
    ask,
    differences,
    insert_hold,
    mismatch_alerts,
    ready_chain,
    reconcile,
)


async def test_a_hold_row_without_its_event_is_named_unknown(port: Port) -> None:
    chain = await ready_chain(port)
    await integrate_all(port.release)

    await insert_hold(port, chain.release_id, "terminal")
    assert [reason["code"] for reason in (await ask(port, chain))["reasons"]] == ["terminal_hold"]
    outcome = await reconcile(port)

    assert differences(outcome) == [
        {
            "table": "release_holds",
            "key": {"release_id": str(chain.release_id), "kind": "terminal"},
            "problem": "unknown",
        }
    ]
    [alert] = await mismatch_alerts(port)
    assert alert.severity == "critical"
