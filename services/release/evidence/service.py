"""Exporting a release's evidence bundle (docs/evidence.md): one file for police and court.

The bundle holds what the release service judged and recorded about one release, each value
either signed by whoever made it or committed to the audit log with a proof, so that
`verify.verify_bundle` can check it offline against trust anchors the reader supplies. The
export waits for the log: while an event of the release is not yet under a signed
checkpoint it answers `409 evidence_not_sequenced` (a state the log leaves within about a
second, once the sequencer has integrated the event), because an event without an
inclusion proof is a value nobody could check. The export itself is appended to the log,
naming who exported which bundle (its SHA-256); that event goes into the next export of
the release, not this one.
"""

import hashlib
import json
from collections.abc import Sequence
from typing import Any

import httpx
import rfc8785
from sqlmodel.ext.asyncio.session import AsyncSession

from services.release.auth import Caller
from services.release.chain.models import LinkKind
from services.release.chain.verification import facts_of, stored
from services.release.chain.verify import parties_needed
from services.release.evidence import documents, repository
from services.release.evidence.verify import BUNDLE_TYPE, BUNDLE_VERSION
from services.release.gate import repository as gate_repository
from services.release.releases.models import Release
from shared.audit import repository as audit_repository
from shared.audit import service as audit_log
from shared.audit.events import append
from shared.audit.models import AuditEvent
from shared.problems import Problem
from shared.tlog.cosignature import CosignatureVerifier, require_quorum
from shared.tlog.note import NoteError

DRAWN = "inspection.drawn"
DECIDED = "gate.decided"
# The events that name a link's hash when it is received.
SUBMITTED = frozenset({"release.created", "link.submitted"})


class NotSequenced(Problem):
    """409: an event of the release is not yet under a signed checkpoint; ask again soon.

    A state of the log, not an outage and not bad input: the same request succeeds once
    the sequencer has caught up (`retry_after`, in seconds, says when to ask again)."""

    status = 409


def _not_sequenced() -> NotSequenced:
    return NotSequenced(
        "evidence_not_sequenced",
        "an event of the release is not yet under a signed checkpoint; try again shortly",
        retry_after=1,
    )


def _cited_size(event: AuditEvent) -> int:
    """The size of the checkpoint a draw's input cites."""
    alpha = json.loads(json.loads(event.event)["alpha"])
    size: int = alpha["checkpoint"]["size"]
    return size


async def build(
    session: AsyncSession,
    *,
    release: Release,
    log: audit_log.AuditLog,
    identity: httpx.AsyncClient,
    issuer: str,
    witnesses: Sequence[tuple[str, CosignatureVerifier]] = (),
    min_witnesses: int = 0,
) -> bytes:
    """The release's evidence bundle, as RFC 8785 canonical JSON.

    With `min_witnesses`, the checkpoint must carry that many valid cosignatures of the
    configured witnesses (docs/witness.md): until they have cosigned it (within about a
    second of its signature), the export waits as for an event not yet sequenced.
    """
    checkpoint = await audit_repository.latest_checkpoint(session)
    events = await repository.events_naming(session, release.id)
    if checkpoint is None or any(
        event.log_index is None or event.log_index >= checkpoint.size for event in events
    ):
        raise _not_sequenced()
    if min_witnesses and not _cosigned(checkpoint.note, witnesses, min_witnesses):
        raise NotSequenced(
            "evidence_not_sequenced",
            f"the newest checkpoint is not yet cosigned by {min_witnesses} witnesses;"
            " try again shortly",
            retry_after=1,
        )
    events.sort(key=lambda event: event.log_index or 0)
    size = checkpoint.size

    logged = []
    draws = []
    for event in events:
        index = event.log_index or 0
        proof = await audit_log.inclusion_proof(session, log, index=index, size=size)
        logged.append(
            {
                "event": event.event,
                "salt": audit_log.encode_hashes([bytes(event.salt)])[0],
                "index": index,
                "proof": audit_log.encode_hashes(proof),
            }
        )
        if event.event_type == DRAWN:
            cited = _cited_size(event)
            consistency = (
                await audit_log.consistency_proof(session, log, old=cited, new=size)
                if 0 < cited < size
                else []  # an empty tree is a prefix of every tree; an equal one is the tree
            )
            draws.append(
                {
                    "event_id": str(event.event_id),
                    "consistency": audit_log.encode_hashes(consistency),
                }
            )

    # Every link, in the order the log received them (their submission events' order).
    received = {}
    for event in events:
        body = json.loads(event.event)
        if event.event_type in SUBMITTED and body.get("release_id") == str(release.id):
            received[body["link_hash"]] = event.log_index or 0
    links = sorted(
        await repository.links_of(session, release.id),
        key=lambda link: received.get(link.jws_hash, -1),
    )
    holders = parties_needed(facts_of(release), [stored(link) for link in links])
    # The signers and receivers of every link, and the driver an assignment names (his
    # device credentials), whether or not the link is live or accepted.
    holders |= {link.from_party for link in links} | {link.receiver_party for link in links}
    holders |= {link.to for link in links if link.kind == LinkKind.assignment}
    judged = await _judged_status_lists(session, events, release)
    held = await documents.fetch(identity, holders=holders, issuer=issuer, judged=judged)

    bundle: dict[str, Any] = {
        "type": BUNDLE_TYPE,
        "v": BUNDLE_VERSION,
        "release_id": str(release.id),
        "checkpoint": checkpoint.note,
        "events": logged,
        "links": [{"jws": link.jws, "ack": link.ack} for link in links],
        "credentials": held.credentials,
        "status_lists": held.status_lists,
        "judged_status_lists": judged,
        "identity_keys": held.keys,
        "draws": draws,
    }
    return bytes(rfc8785.dumps(bundle))


def _cosigned(
    note: str, witnesses: Sequence[tuple[str, CosignatureVerifier]], minimum: int
) -> bool:
    try:
        require_quorum(note, [cosigner for _, cosigner in witnesses], minimum)
    except NoteError:
        return False
    return True


async def _judged_status_lists(
    session: AsyncSession, events: Sequence[AuditEvent], release: Release
) -> list[str]:
    """The status-list tokens the release's gate decisions were judged with, sorted.

    A hash a decision names whose token is not stored (it cannot be, unless the table was
    tampered with) is left out: the verifier then names the decision that lacks it."""
    hashes: set[str] = set()
    for event in events:
        if event.event_type != DECIDED:
            continue
        body = json.loads(event.event)
        if body.get("release_id") == str(release.id):
            hashes.update(body.get("status_lists") or ())
    stored = await gate_repository.judged_status_lists(session, hashes) if hashes else {}
    return sorted(stored.values())


async def log_export(
    session: AsyncSession, *, caller: Caller, release: Release, bundle: bytes
) -> None:
    """Append who exported which bundle of the release, in the caller's transaction."""
    await append(
        session,
        "evidence.exported",
        {
            "release_id": str(release.id),
            "container": release.container,
            "actor": caller.principal.actor,
            "party_id": caller.party_id,
            "bundle_sha256": hashlib.sha256(bundle).hexdigest(),
        },
    )
