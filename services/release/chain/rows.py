"""What a link is made of: the claims to sign, the row to store, the audit event to append.

Pure functions of a release, a token and a link row: nothing here reads or writes the
database or verifies anything (the rows are built from claims already verified).
"""

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from services.release.chain.models import Link, LinkKind, LinkStatus
from services.release.chain.tokens import claims_of, epoch_of, jti_of
from services.release.chain.verify import link_hash
from services.release.releases.models import Release
from services.release.settings import ReleaseSettings


def link_row(
    token: str,
    *,
    release: Release,
    receiver_party: str,
    submitted_by: str,
    kid: str,
    received_at: datetime,
) -> Link:
    """The row of a link whose claims have verified; `created_at` is its receipt (the moment
    it was verified at)."""
    claims = claims_of(token)
    return Link(
        release_id=release.id,
        seq=int(claims["seq"]),
        kind=str(claims["kind"]),
        from_party=str(claims["from"]),
        to=str(claims["to"]),
        receiver_party=receiver_party,
        jws=token,
        jws_hash=link_hash(token),
        jti=jti_of(claims),
        kid=kid,
        iat=epoch_of(claims, "iat"),
        exp=epoch_of(claims, "exp"),
        submitted_by=submitted_by,
        created_at=received_at,
    )


def link_claims(
    release: Release,
    *,
    seq: int,
    kind: str,
    sender: str,
    to: str,
    prev: str | None,
    now: datetime,
    settings: ReleaseSettings,
) -> dict[str, Any]:
    """The claims of a link the identity service signs with the sender's custodial key."""
    exp = min(release.valid_until, now + timedelta(days=settings.link_lifetime_days))
    claims: dict[str, Any] = {
        "release_id": str(release.id),
        "container": release.container,
        "seq": seq,
        "kind": kind,
        "from": sender,
        "to": to,
        "iat": int(now.timestamp()),
        "exp": int(exp.timestamp()),
        "jti": str(uuid.uuid4()),
    }
    if prev is not None:
        claims["prev"] = prev
    if kind == LinkKind.release:
        claims.update(
            terminal=release.terminal_id, valid_until=int(release.valid_until.timestamp())
        )
        if release.reference is not None:
            claims["reference"] = release.reference
    return claims


def link_event(link: Link, *, actor: str, party_id: str, **extra: Any) -> dict[str, Any]:
    """The audit event of a step of the chain."""
    return {
        "release_id": str(link.release_id),
        "seq": link.seq,
        "kind": link.kind,
        "from": link.from_party,
        "to": link.to,
        "jti": link.jti,
        "link_hash": link.jws_hash,
        # The moment the link was received and is judged at (not the iat its signer chose).
        "received_at": link.created_at.isoformat(),
        "actor": actor,
        "party_id": party_id,
        **extra,
    }


def holder_of(links: Sequence[Link]) -> Link | None:
    """The last accepted link: its `to` holds the right to the container."""
    accepted = [link for link in links if link.status == LinkStatus.accepted]
    return accepted[-1] if accepted else None
