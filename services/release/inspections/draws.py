"""Verifiable random draws (docs/inspections.md): nobody can know one in advance, the
service's own operators included, and anyone can check each one afterwards.

A draw's input ``alpha`` is the RFC 8785 canonical JSON of

    {"v": 1, "purpose": ..., "subject": {...},
     "checkpoint": {"origin": ..., "size": ..., "root": <base64>}}

where the checkpoint is the release service's latest signed audit-log checkpoint at that
moment: a root hash nobody can know before the log reaches it, so that not even the holder
of the VRF key can compute a draw before then. The VRF (`shared.vrf`, RFC 9381) turns
``alpha`` into a proof ``pi`` and an output ``beta``; ``u`` is the first 8 bytes of
``beta`` as a big-endian integer divided by 2^64, and the subject is selected when
``u < probability``. The draw (alpha, pi, beta, u, probability, result) is stored and
appended to the audit log in the caller's transaction, with what it decided.
"""

import base64
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

import rfc8785
from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from services.release.inspections import repository
from services.release.inspections.keys import DrawingKey, b64
from services.release.inspections.models import Draw, Purpose
from shared import vrf
from shared.audit import repository as audit_log
from shared.audit.events import append, append_at_commit
from shared.observability import metrics
from shared.problems import Conflict, Problem

ALPHA_VERSION: Final = 1
_TWO_TO_64: Final = float(1 << 64)


class NoCheckpoint(Problem):
    """503: the audit log has no signed checkpoint yet, so no draw can be made."""

    status = 503


def u_of(beta: bytes) -> float:
    """The draw's number in [0, 1): beta's first 8 bytes, big-endian, divided by 2^64."""
    return int.from_bytes(beta[:8], "big") / _TWO_TO_64


def alpha_bytes(alpha: Mapping[str, Any]) -> bytes:
    """The VRF input: RFC 8785 canonical JSON of the alpha object."""
    return bytes(rfc8785.dumps(dict(alpha)))


def cited_checkpoint(size: int | None, root: bytes | None, note: str | None) -> dict[str, Any]:
    """A checkpoint as a draw's alpha cites it; 503 when the log has signed none yet."""
    if size is None or root is None or note is None:
        raise NoCheckpoint(
            "checkpoint_unavailable",
            "the audit log has no signed checkpoint yet: no draw can be made; try again",
            retry_after=1,
        )
    origin = note.split("\n", 1)[0]
    return {"origin": origin, "size": size, "root": base64.b64encode(root).decode("ascii")}


async def _checkpoint(session: AsyncSession) -> dict[str, Any]:
    latest = await audit_log.latest_checkpoint(session)
    if latest is None:
        return cited_checkpoint(None, None, None)
    return cited_checkpoint(latest.size, latest.root_hash, latest.note)


async def draw(
    session: AsyncSession,
    *,
    key: DrawingKey,
    purpose: Purpose,
    subject: Mapping[str, Any],
    probability: float,
    now: datetime,
    decision_id: uuid.UUID | None = None,
    release_id: uuid.UUID | None = None,
    container: str | None = None,
    checkpoint: Mapping[str, Any] | None = None,
    visit: int | None = None,
    log_at_commit: bool = False,
) -> Draw:
    """Draw for `subject`, store it and log it in the caller's transaction.

    `checkpoint`: the latest signed checkpoint as `cited_checkpoint` gives it, when the
    caller has just read it (the gate reads it with the rest of its state); else read here.
    `log_at_commit`: the audit event is written at the commit (`append_at_commit`), for a
    caller whose later events are too (the gate), so that the log keeps their order. The
    draw's row is written at once: its unique visit is what refuses a second draw.
    """
    if not 0.0 <= probability <= 1.0:
        raise ValueError("a probability lies in [0, 1]")
    draw_id = uuid.uuid4()
    alpha = {
        "v": ALPHA_VERSION,
        "purpose": str(purpose),
        "subject": dict(subject),
        "checkpoint": dict(checkpoint) if checkpoint is not None else await _checkpoint(session),
    }
    alpha_text = alpha_bytes(alpha)
    await key.register(session)
    pi = key.prove(alpha_text)
    beta = vrf.proof_to_hash(pi)
    u = u_of(beta)
    selected = u < probability
    facts = {
        "draw_id": str(draw_id),
        "purpose": str(purpose),
        "alpha": alpha_text.decode("utf-8"),
        "key_id": key.key_id,
        "pi": b64(pi),
        "beta": b64(beta),
        "u": u,
        "probability": probability,
        "selected": selected,
    }
    if log_at_commit:
        event_id = append_at_commit(session, "inspection.drawn", facts)
    else:
        event_id = await append(session, "inspection.drawn", facts)
    record = Draw(
        id=draw_id,
        purpose=purpose,
        alpha=alpha_text.decode("utf-8"),
        key_id=key.key_id,
        pi=pi,
        beta=beta,
        u=u,
        probability=probability,
        selected=selected,
        drawn_at=now,
        event_id=event_id,
        decision_id=decision_id,
        release_id=release_id,
        container=container,
        visit=visit,
    )
    try:
        await repository.add_draw(session, record)
    except IntegrityError:
        # Another decision for the release drew this visit a moment ago (the transaction
        # rolls back): asked again, the gate finds that visit's draw.
        raise Conflict("draw_race", "the release was drawn for a moment ago; ask again") from None
    metrics.inspection_drawn(str(purpose), selected)
    return record
