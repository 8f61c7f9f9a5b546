"""Threat: a database administrator sets a picked-up release back to `open`.

An open release is one the gate answers for again; the log says the container went out
(`gate.completed`), so the reconciliation names the release and the status on both sides.
"""

from tests.audit_helpers import integrate_all
from tests.release.port import Port
from tests.release.reconciliation import (
    differences,
    mismatch_alerts,
    picked_up,
    reconcile,
    set_status,
)


async def test_a_picked_up_release_set_open_is_named_with_both_statuses(port: Port) -> None:
    chain = await picked_up(port)
    await integrate_all(port.release)

    await set_status(port, chain.release_id, "open")
    outcome = await reconcile(port)

    assert differences(outcome) == [
        {
            "table": "releases",
            "key": {"id": str(chain.release_id)},
            "problem": "differs",
            "log": {"status": "picked_up"},
            "stored": {"status": "open"},
        }
    ]
    [alert] = await mismatch_alerts(port)
    assert alert.severity == "critical" and alert.facts["by_table"] == {"releases": 1}
