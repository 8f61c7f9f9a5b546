"""The gate: may this driver take this container? And the gate-out, recorded once.

A decision is an answer, not an error: a forged or replayed gate pass, a broken chain, a
hold or the wrong driver each give `deny` with a reason code, and the decision is kept
(and logged) as evidence. Only a malformed request is a 4xx problem.
"""

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import event
from sqlmodel.ext.asyncio.session import AsyncSession

from services.release.auth import Caller, check_person_status
from services.release.chain.tokens import kid_of
from services.release.chain.verification import facts_of, verify
from services.release.chain.verify import ChainFailure, ChainReport
from services.release.gate import repository
from services.release.gate.models import Decision, GateDecision, GateOut, JudgedStatusList
from services.release.gate.passes import spend_gate_pass
from services.release.gate.repository import ReleaseAtGate
from services.release.gate.schemas import DecisionRequest, Reason
from services.release.identity_api import IdentityApi
from services.release.identity_directory import IdentityDirectory
from services.release.inspections.keys import DrawingKey
from services.release.inspections.policy import Pickup
from services.release.inspections.service import select_at_gate
from services.release.releases import repository as releases
from services.release.releases.models import ReleaseStatus
from services.release.releases.service import parse_container
from services.release.settings import ReleaseSettings
from services.release.webhooks import events as webhook_events
from services.release.webhooks.outbox import record as announce
from shared.audit.events import append_at_commit
from shared.credentials import StatusListView, token_sha256
from shared.gatepass import GatePass, GatePassRefused, verify_gate_pass
from shared.observability import metrics
from shared.problems import Conflict, InvalidInput, NotFound, Problem, Unauthorised

# What the identity service says when a kiosk asks for a driver's gate pass, as gate reasons.
_KIOSK_REASONS = {
    "person_not_active": "driver_suspended",
    "party_not_active": "driver_party_not_active",
    "screening_expired": "screening_expired",
    "not_a_driver": "not_a_driver",
    "person_not_found": "driver_unknown",
    "otp_invalid": "second_factor_failed",
    "second_factor_not_enrolled": "second_factor_failed",
}
_SELECTION_DETAILS = {
    "random_inspection": "selected for a random inspection",
    "inspection_open": "the container's inspection is open: an officer records its outcome",
}
_CLOSED_REASONS = {
    ReleaseStatus.picked_up: ("already_picked_up", "the container has been picked up"),
    ReleaseStatus.cancelled: ("release_cancelled", "the release has been cancelled"),
    ReleaseStatus.expired: ("release_expired", "the release has expired"),
}


def _reason(code: str, detail: str, **extra: Any) -> Reason:
    return Reason(code=code, detail=detail, **extra)


async def _gate_pass_token(
    api: IdentityApi, caller: Caller, body: DecisionRequest, reasons: list[Reason]
) -> str | None:
    if body.gate_pass is not None:
        return body.gate_pass
    if body.driver is None or body.otp is None:
        # DecisionRequest refuses such a body already; a caller that builds one itself too.
        raise InvalidInput("gate_pass_or_kiosk_required", "send a gate pass, or driver and otp")
    try:
        return await api.kiosk_gate_pass(caller.token, body.driver, body.otp)
    except Problem as exc:
        if exc.status in (429, 503):  # not an answer about the driver: the caller retries
            raise
        reasons.append(_reason(_KIOSK_REASONS.get(exc.code, exc.code), exc.detail))
        return None


async def _checked_gate_pass(
    session: AsyncSession,
    token: str,
    *,
    directory: IdentityDirectory,
    settings: ReleaseSettings,
    now: datetime,
    reasons: list[Reason],
) -> GatePass | None:
    kid = kid_of(token) or ""
    try:
        gate_pass = verify_gate_pass(
            token,
            resolve_key=await directory.resolver(kid),
            issuer=settings.identity_issuer,
            now=now.timestamp(),
        )
    except GatePassRefused as exc:
        code = exc.code if exc.code == "screening_expired" else "gate_pass_invalid"
        reasons.append(_reason(code, f"{exc.code}: {exc.detail}"))
        return None
    try:
        await spend_gate_pass(session, gate_pass=gate_pass, now=now)
    except Conflict as exc:
        reasons.append(_reason(exc.code, exc.detail))
    try:
        await check_person_status(directory, gate_pass.status, now=now.timestamp())
    except Unauthorised as exc:
        code = "driver_suspended" if exc.code == "person_not_active" else "driver_status_unknown"
        reasons.append(_reason(code, exc.detail))
    return gate_pass


async def _release_at_gate(
    session: AsyncSession, caller: Caller, container: str, reasons: list[Reason]
) -> ReleaseAtGate | None:
    """The open release of the container at the caller's terminal; else why there is none."""
    found = await repository.open_release_at_gate(session, container)
    if found is not None and found.release.terminal_id == caller.party_id:
        return found
    latest = await releases.latest_for_container(session, container)
    if (
        latest is not None
        and latest.terminal_id == caller.party_id
        and latest.status in _CLOSED_REASONS
    ):
        reasons.append(_reason(*_CLOSED_REASONS[ReleaseStatus(latest.status)]))
    else:
        # A release at another terminal is none of this terminal's business: the same answer.
        reasons.append(_reason("no_open_release", "no open release for this container here"))
    return None


async def _verify_whole_chain(
    found: ReleaseAtGate,
    *,
    directory: IdentityDirectory,
    settings: ReleaseSettings,
    now: datetime,
) -> ChainReport:
    """The release's chain, verified complete (down to the accepted assignment) as of now."""
    return await verify(
        directory,
        facts_of(found.release),
        found.links,
        settings=settings,
        now=now,
        complete=True,
    )


def _chain_failure(failure: ChainFailure) -> dict[str, Any]:
    """What a gate answer says about the first link that failed."""
    return {
        "detail": f"link {failure.seq}: {failure.detail}",
        "seq": failure.seq,
        "link_code": failure.code,
    }


async def _check_release(
    found: ReleaseAtGate,
    gate_pass: GatePass | None,
    *,
    directory: IdentityDirectory,
    settings: ReleaseSettings,
    now: datetime,
    reasons: list[Reason],
) -> tuple[StatusListView, ...]:
    """Add what stops the release to `reasons`; the status lists the chain was judged with."""
    if found.release.valid_until <= now:
        reasons.append(_reason("release_expired", "the release has expired"))
    for kind in found.holds:
        reasons.append(_reason(f"{kind}_hold", f"the release is under a {kind} hold"))
    judging = directory.judging()
    report = await _verify_whole_chain(found, directory=judging, settings=settings, now=now)
    if report.failure is not None:
        reasons.append(_reason("chain_broken", **_chain_failure(report.failure)))
    elif gate_pass is not None:
        assignment = found.links[-1]
        if (
            report.driver != str(gate_pass.person_id)
            or assignment.receiver_party != gate_pass.party_id
        ):
            reasons.append(_reason("wrong_driver", "the release is assigned to another driver"))
    return judging.judged_status_lists


async def _keep_judged(
    session: AsyncSession,
    judged: Sequence[StatusListView],
    *,
    directory: IdentityDirectory,
    now: datetime,
) -> list[str]:
    """Store the status-list tokens a decision judged with (each once, ever); their hashes.

    The hashes already committed are remembered by the directory (the app's), so a warm gate
    writes nothing; a new token costs one `INSERT … ON CONFLICT DO NOTHING`, remembered only
    once the decision's transaction commits (a rolled-back one stored nothing)."""
    hashes = {token_sha256(view.token): view for view in judged if view.token}
    new = [digest for digest in hashes if digest not in directory.kept_status_lists]
    for digest in new:
        view = hashes[digest]
        await repository.keep_judged(
            session,
            JudgedStatusList(
                token_sha256=digest, uri=view.uri, token=view.token, first_judged_at=now
            ),
        )
    if new:
        event.listen(
            session.sync_session,
            "after_commit",
            lambda _session: directory.remember_kept(new),
            once=True,
        )
    return sorted(hashes)


async def decide(
    session: AsyncSession,
    *,
    caller: Caller,
    body: DecisionRequest,
    directory: IdentityDirectory,
    api: IdentityApi,
    settings: ReleaseSettings,
    drawing_key: DrawingKey,
    now: datetime,
) -> GateDecision:
    """Decide `release`, `inspect` or `deny`, record the decision and log it.

    A decision that would release asks the inspections first (`select_at_gate`): an open
    inspection of the container, or a verifiable draw, may make it `inspect`.
    """
    container = parse_container(body.container)
    reasons: list[Reason] = []
    token = await _gate_pass_token(api, caller, body, reasons)
    gate_pass = None
    if token is not None:
        gate_pass = await _checked_gate_pass(
            session,
            token,
            directory=directory,
            settings=settings,
            now=now,
            reasons=reasons,
        )
    found = await _release_at_gate(session, caller, container, reasons)
    release = found.release if found is not None else None
    judged: tuple[StatusListView, ...] = ()
    if found is not None:
        judged = await _check_release(
            found,
            gate_pass,
            directory=directory,
            settings=settings,
            now=now,
            reasons=reasons,
        )
    decision_id = uuid.uuid4()
    selection = None
    if reasons or found is None:
        outcome = Decision.deny
    else:
        decided_after = now - timedelta(seconds=settings.gate_decision_valid_seconds)
        pickup = Pickup(
            release=found.release,
            chain_length=len(found.links),
            driver_party=gate_pass.party_id if gate_pass else None,
            driver_id=gate_pass.person_id if gate_pass else None,
            requested_by=caller.principal.actor,
        )
        selection = await select_at_gate(
            session,
            key=drawing_key,
            decision_id=decision_id,
            pickup=pickup,
            settings=settings,
            decided_after=decided_after,
            now=now,
        )
        outcome = Decision.inspect if selection.selected else Decision.release
        if selection.reason is not None:
            reasons.append(_reason(selection.reason, _SELECTION_DETAILS[selection.reason]))
    driver = gate_pass.person_id if gate_pass else body.driver
    recorded = [reason.model_dump(exclude_none=True) for reason in reasons]
    method = "gate_pass" if body.gate_pass is not None else "kiosk"
    status_lists = await _keep_judged(session, judged, directory=directory, now=now)
    event_id = append_at_commit(
        session,
        "gate.decided",
        {
            "decision_id": str(decision_id),
            "container": container,
            "terminal": caller.party_id,
            "release_id": str(release.id) if release else None,
            "driver": str(driver) if driver else None,
            "method": method,
            "decision": outcome,
            "reasons": recorded,
            "gate_pass_jti": gate_pass.jti if gate_pass else None,
            "actor": caller.principal.actor,
            "draw_id": str(selection.draw_id) if selection and selection.draw_id else None,
            "inspection_id": (
                str(selection.inspection_id) if selection and selection.inspection_id else None
            ),
            # The status-list tokens the chain was judged with (their SHA-256, base64url),
            # each stored in `judged_status_lists`: an evidence bundle carries them.
            "status_lists": status_lists,
        },
    )
    decision = GateDecision(
        id=decision_id,
        container=container,
        terminal_id=caller.party_id,
        release_id=release.id if release else None,
        driver_id=driver,
        method=method,
        decision=outcome,
        reasons=recorded,
        gate_pass_jti=gate_pass.jti if gate_pass else None,
        decided_by=caller.principal.actor,
        decided_at=now,
        event_id=event_id,
        draw_id=selection.draw_id if selection else None,
        inspection_id=selection.inspection_id if selection else None,
    )
    repository.record_decision(session, decision)
    if release is not None:
        announce(
            session,
            webhook_events.GATE_DECIDED,
            release_id=release.id,
            facts={
                "decision_id": str(decision_id),
                "container": container,
                "decision": outcome,
                "reasons": recorded,
            },
            now=now,
            at_commit=True,
        )
    metrics.gate_decided(outcome, (reason.code for reason in reasons))
    return decision


def decision_not_found() -> NotFound:
    """One answer for a decision that does not exist or is another terminal's."""
    return NotFound("decision_not_found", "no such gate decision")


async def visible_decision(
    session: AsyncSession, caller: Caller, decision_id: uuid.UUID
) -> GateDecision:
    """A decision of the caller's terminal, or 404."""
    decision = await repository.terminal_decision(session, decision_id, caller.party_id)
    if decision is None:
        raise decision_not_found()
    return decision


async def complete(
    session: AsyncSession,
    *,
    caller: Caller,
    decision_id: uuid.UUID,
    directory: IdentityDirectory,
    settings: ReleaseSettings,
    now: datetime,
) -> tuple[GateOut, uuid.UUID]:
    """Record the gate-out once: the release becomes `picked_up`; every other try is 409.

    The chain is verified again first: a party revoked or a driver suspended (his device
    credential) between the decision and the gate-out stops the container at the barrier.

    Two conditional updates decide: the first marks the decision completed (it must be the
    terminal's, `release`, fresh and not completed), the second moves the release from open
    to `picked_up` unless a hold was placed since. A concurrent completion waits for the
    first one's row lock and then finds the condition false. Only when an update changes
    nothing is the reason looked up, so the common path costs no extra reads.
    """
    decided_after = now - timedelta(seconds=settings.gate_decision_valid_seconds)
    claimed = await repository.claim_decision(
        session,
        terminal_id=caller.party_id,
        decision_id=decision_id,
        decided_after=decided_after,
        now=now,
    )
    if claimed is None:
        raise await _why_not_claimed(session, caller, decision_id)
    await _recheck_chain(session, claimed, directory=directory, settings=settings, now=now)
    if not await releases.mark_picked_up(session, claimed.release_id, now=now):
        if await releases.holds(session, claimed.release_id):
            raise Conflict("hold_placed", "a hold was placed after the decision")
        raise Conflict("already_picked_up", "the release is no longer open")
    gate_out = GateOut(
        release_id=claimed.release_id,
        decision_id=decision_id,
        completed_by=caller.principal.actor,
        completed_at=now,
    )
    # The release's primary key on gate_outs is the last word, whatever got us here.
    if not await repository.record_gate_out(session, gate_out):
        raise Conflict("already_picked_up", "the container has been picked up already")
    event_id = append_at_commit(
        session,
        "gate.completed",
        {
            "decision_id": str(decision_id),
            "release_id": str(claimed.release_id),
            "container": claimed.container,
            "driver": str(claimed.driver_id) if claimed.driver_id else None,
            "actor": caller.principal.actor,
        },
    )
    announce(
        session,
        webhook_events.GATE_OUT,
        release_id=claimed.release_id,
        facts={"decision_id": str(decision_id)},
        now=now,
        at_commit=True,
    )
    return gate_out, event_id


async def _recheck_chain(
    session: AsyncSession,
    claimed: repository.ClaimedDecision,
    *,
    directory: IdentityDirectory,
    settings: ReleaseSettings,
    now: datetime,
) -> None:
    """409 when the chain no longer holds for the decided driver (the claim rolls back)."""
    found = await repository.open_release_at_gate(session, claimed.container)
    if found is None or found.release.id != claimed.release_id:
        return  # no longer open: `mark_picked_up` answers why
    report = await _verify_whole_chain(found, directory=directory, settings=settings, now=now)
    if report.failure is not None:
        facts = _chain_failure(report.failure)
        facts["detail"] = "since the decision, " + facts["detail"]
        raise Conflict("chain_broken", **facts)
    if claimed.driver_id is not None and report.driver != str(claimed.driver_id):
        raise Conflict("wrong_driver", "the release is now assigned to another driver")


async def _why_not_claimed(
    session: AsyncSession, caller: Caller, decision_id: uuid.UUID
) -> Problem:
    """Why a decision could not be completed (it was not a fresh, open `release`)."""
    decision = await visible_decision(session, caller, decision_id)
    if decision.decision == Decision.deny or decision.release_id is None:
        return Conflict("decision_denied", "the gate decided not to release")
    if decision.decision == Decision.inspect:
        return Conflict("inspection_pending", "the container is selected for inspection")
    if decision.completed_at is not None:
        return Conflict("already_completed", "this gate-out has been recorded already")
    return Conflict("decision_expired", "the decision is too old; ask the gate again")
