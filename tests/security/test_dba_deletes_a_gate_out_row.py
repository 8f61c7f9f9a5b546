"""Threat: a database administrator deletes a gate-out, so the container never left on paper.

The gate-out row is what makes a second pickup of the release impossible; the log's
`gate.completed` still names it, with its decision, and the reconciliation names it missing.
"""

from sqlmodel import col, select

from services.release.gate.models import GateOut
from shared.db import transaction
from tests.audit_helpers import integrate_all
from tests.release.port import Port
from tests.release.reconciliation import (
    delete_gate_out,
    differences,
    mismatch_alerts,
    picked_up,
    reconcile,
)


async def test_a_deleted_gate_out_is_named_with_its_decision(port: Port) -> None:
    chain = await picked_up(port)
    async with transaction(port.release.state.sessions) as session:
        decision_id = (
            await session.exec(
                select(GateOut.decision_id).where(col(GateOut.release_id) == chain.release_id)
            )
        ).one()
    await integrate_all(port.release)

    await delete_gate_out(port, chain.release_id)
    outcome = await reconcile(port)

    assert differences(outcome) == [
        {
            "table": "gate_outs",
            "key": {"release_id": str(chain.release_id)},
            "problem": "missing",
            "log": {"decision_id": str(decision_id)},
        }
    ]
    assert [alert.id for alert in await mismatch_alerts(port)] == [outcome.alert_id]
