"""Threat: a database administrator deletes a customs hold row, and the gate lets it out.

The hold is a row; the gate reads the row. Deleting it with SQL changes no event, so the
gate answers `release` (which this test shows first: the table alone cannot stop him). The
audit log still says the hold was placed and never lifted: the reconciliation replays it,
names the missing row and raises a critical alert, on its schedule or `ketenpas reconcile`.
Putting the row back once the container is out does not hide it: the log then shows a
gate-out under a hold, which the service never writes.
"""

from tests.audit_helpers import integrate_all
from tests.release.chains import ok
from tests.release.port import Port
from tests.release.reconciliation import (
    ask,
    delete_hold,
    differences,
    insert_hold,
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


async def test_putting_the_row_back_after_the_pickup_does_not_hide_it(port: Port) -> None:
    chain = await ready_chain(port)
    await place_hold(port, chain, "customs")
    await integrate_all(port.release)

    await delete_hold(port, chain.release_id, "customs")
    decision = await ask(port, chain)
    ok(
        await port.client.post(
            f"/v1/gate/decisions/{decision['decision_id']}/complete",
            headers=port["terminal"].headers,
        )
    )
    await insert_hold(port, chain.release_id, "customs")  # the tables look held again
    outcome = await reconcile(port)

    # The log holds the hold and then the gate-out: an order the service never writes.
    assert differences(outcome) == [
        {
            "table": "gate_outs",
            "key": {"release_id": str(chain.release_id)},
            "problem": "out_when_not_allowed",
            "log": {"holds": ["customs"], "status": "open"},
        }
    ]
    [alert] = await mismatch_alerts(port)
    assert alert.severity == "critical" and str(chain.release_id) in alert.summary
