"""Threat: a database administrator deletes a customs hold row, and the gate lets it out.

The hold is a row; the gate reads the row. Deleting it with SQL changes no event, so the
gate answers `release` (which this test shows first: the table alone cannot stop him). The
audit log still says the hold was placed and never lifted: the reconciliation replays it,
names the missing row and raises a critical alert, on its schedule or `ketenpas reconcile`.
"""

from tests.audit_helpers import integrate_all
from tests.release.port import Port
from tests.release.reconciliation import (
    ask,
    delete_hold,
    differences,
    mismatch_alerts,
    place_hold,
    ready_chain,
    reconcile,
)


async def test_a_deleted_customs_hold_row_is_a_critical_alert_naming_it(port: Port) -> None:
    chain = await ready_chain(port)
    await place_hold(port, chain, "customs")
    assert [reason["code"] for reason in (await ask(port, chain))["reasons"]] == ["customs_hold"]
    await integrate_all(port.release)

    await delete_hold(port, chain.release_id, "customs")
    assert (await ask(port, chain))["decision"] == "release"  # the attack works at the gate
    outcome = await reconcile(port)

    missing = {
        "table": "release_holds",
        "key": {"release_id": str(chain.release_id), "kind": "customs"},
        "problem": "missing",
    }
    assert differences(outcome) == [missing]
    [alert] = await mismatch_alerts(port)
    assert alert.id == outcome.alert_id
    assert (alert.kind, alert.severity) == ("reconcile.mismatch", "critical")
    assert alert.facts["differences"] == [missing] and alert.facts["count"] == 1
    assert str(chain.release_id) in alert.summary and "customs" in alert.summary
