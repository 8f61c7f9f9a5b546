"""Helpers of the reconciliation tests: a released and picked-up container, the edits a
database administrator could make behind the service's back, and running the check."""

import uuid
from typing import Any

from sqlalchemy import delete, insert, update
from sqlmodel import col, select

from services.release.alerts.models import Alert
from services.release.gate.models import GateOut
from services.release.reconcile.service import ALERT_KIND, Outcome
from services.release.releases.models import Hold, Release
from shared.db import transaction
from shared.models import utcnow
from tests.release.chains import Chain, ask_gate, full_chain, gate_pass, ok
from tests.release.port import Port

SHORT = ("forwarder", "carrier")


async def reconcile(port: Port) -> Outcome:
    """Run the service's reconciliation once, now."""
    outcome: Outcome | None = await port.release.state.reconciler.run_once()
    assert outcome is not None
    return outcome


def differences(outcome: Outcome) -> list[dict[str, Any]]:
    """The differences of a run, as JSON."""
    return [difference.as_json() for difference in outcome.report.differences]


async def mismatch_alerts(port: Port) -> list[Alert]:
    """The reconciliation's alerts, oldest first."""
    async with transaction(port.release.state.sessions) as session:
        statement = (
            select(Alert).where(col(Alert.kind) == ALERT_KIND).order_by(col(Alert.raised_at))
        )
        return list((await session.exec(statement)).all())


async def ready_chain(port: Port) -> Chain:
    """A release handed to a carrier whose driver has accepted: the gate would release."""
    chain = await full_chain(port, path=SHORT)
    assert chain.driver is not None
    return chain


async def ask(port: Port, chain: Chain) -> dict[str, Any]:
    """The gate's answer to the chain's driver now."""
    assert chain.driver is not None
    return await ask_gate(
        port, chain.container, gate_pass=await gate_pass(port, "carrier", chain.driver)
    )


async def picked_up(port: Port) -> Chain:
    """A container released at the gate and driven out (gate-out recorded)."""
    chain = await ready_chain(port)
    decision = await ask(port, chain)
    assert decision["decision"] == "release", decision
    ok(
        await port.client.post(
            f"/v1/gate/decisions/{decision['decision_id']}/complete",
            headers=port["terminal"].headers,
        )
    )
    return chain


async def place_hold(port: Port, chain: Chain, kind: str) -> None:
    """Customs (an officer) or the terminal puts a hold on."""
    headers = (
        await port.person_headers("customs", "officer")
        if kind == "customs"
        else port["terminal"].headers
    )
    ok(await port.client.put(f"/v1/releases/{chain.release_id}/holds/{kind}", headers=headers))


# What a database administrator can do with SQL, without the service and without its log.


async def delete_hold(port: Port, release_id: uuid.UUID, kind: str) -> None:
    """Delete a hold row."""
    async with transaction(port.release.state.sessions) as session:
        await session.exec(
            delete(Hold).where(col(Hold.release_id) == release_id, col(Hold.kind) == kind)
        )


async def insert_hold(port: Port, release_id: uuid.UUID, kind: str) -> None:
    """Insert a hold row the log never saw."""
    async with transaction(port.release.state.sessions) as session:
        await session.exec(
            insert(Hold).values(
                release_id=release_id,
                kind=kind,
                placed_by_party="EU.EORI.NL000000001",
                placed_by="dba",
                reason=None,
                placed_at=utcnow(),
            )
        )


async def set_status(port: Port, release_id: uuid.UUID, status: str) -> None:
    """Rewrite a release's status."""
    async with transaction(port.release.state.sessions) as session:
        await session.exec(
            update(Release).where(col(Release.id) == release_id).values(status=status)
        )


async def delete_gate_out(port: Port, release_id: uuid.UUID) -> None:
    """Delete a gate-out row."""
    async with transaction(port.release.state.sessions) as session:
        await session.exec(delete(GateOut).where(col(GateOut.release_id) == release_id))
