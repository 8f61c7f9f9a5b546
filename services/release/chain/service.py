"""Each step that changes a release's chain: a link submitted, accepted, declined, withdrawn.

Each step is checked by verifying the whole chain with the new or changed link in it, so a
step is accepted only if the chain it produces verifies (up to its last, pending link).

A link is judged at the moment this service received it: a new link at `now`, a stored one
at its recorded `created_at` (also in its `link.submitted` event), never at the `iat` its
signer chose nor, for its credentials, at the moment it is looked at again.

A withdrawal undoes only a step whose next step is not completed (docs/design.md, Domain): the
next step of a release or handover is the receiver passing the right on, completed once that link is
accepted; the next step of an assignment is the driver's acceptance. Nothing is withdrawn
once the gate has decided to let a driver take the container on the chain.
"""

import uuid
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from services.release.auth import Caller, allows
from services.release.chain import repository
from services.release.chain.models import Link, LinkKind, LinkStatus
from services.release.chain.rows import link_claims, link_event, link_row
from services.release.chain.tokens import claims_of, jti_of, kid_of
from services.release.chain.verification import facts_of, refused, stored, verify
from services.release.chain.verify import ACK_TYP, LINK_TYP, StoredLink, link_hash
from services.release.gate import repository as gate_repository
from services.release.identity_api import IdentityApi
from services.release.identity_directory import IdentityDirectory
from services.release.releases.models import Release, ReleaseStatus
from services.release.settings import ReleaseSettings
from services.release.webhooks import events as webhook_events
from services.release.webhooks.outbox import record as announce
from shared.audit.events import append
from shared.problems import Conflict, Forbidden, InvalidInput, NotFound


async def insert_link(session: AsyncSession, link: Link) -> None:
    """Add a verified link; a jti seen before (here or on any release) is a replay."""
    if await repository.jti_used(session, link.jti):
        raise Conflict("link_replayed", "a link with this jti has been submitted before")
    if not await repository.add_link(session, link):
        # Another request changed the chain (or used the jti) at the same moment.
        raise Conflict("chain_changed", "the chain changed meanwhile; reload and retry")


def ensure_open(release: Release, now: datetime) -> None:
    """409 unless the release can still change."""
    if release.status != ReleaseStatus.open:
        raise Conflict(f"release_{release.status}", f"the release is {release.status}")
    if release.valid_until <= now:
        raise Conflict("release_expired", "the release has expired")


async def _driver_party(api: IdentityApi, caller: Caller, to: str, *, now: datetime) -> str:
    """The party of the driver an assignment names, who must be the caller's, and fit."""
    try:
        person_id = uuid.UUID(to)
    except ValueError:
        raise InvalidInput("link_claims_invalid", "an assignment's `to` is a person id") from None
    person = await api.person(caller.token, person_id)
    if person is None or person.party_id != caller.party_id:
        raise InvalidInput("driver_not_of_party", "the driver is not one of your party's people")
    if person.role != "driver":
        raise InvalidInput("not_a_driver", "only a driver can be assigned")
    if person.status != "active":
        raise InvalidInput("driver_suspended", "the driver is suspended")
    if person.screened_until is None or person.screened_until < now.date():
        raise InvalidInput("screening_expired", "the driver's screening has expired")
    return person.party_id


async def submit_link(
    session: AsyncSession,
    *,
    caller: Caller,
    release: Release,
    token: str | None,
    kind: str | None,
    to: str | None,
    directory: IdentityDirectory,
    api: IdentityApi,
    settings: ReleaseSettings,
    now: datetime,
) -> Link:
    """The holder hands over or assigns: a pre-signed link, or one signed for the person."""
    ensure_open(release, now)
    links = await repository.live_links(session, release.id)
    last = links[-1] if links else None
    if last is None or last.status != LinkStatus.accepted:
        raise Conflict("link_pending", "the last link waits for its receiver to accept it")
    if last.kind == LinkKind.assignment:
        raise Conflict("chain_complete", "the chain already ends with a driver")
    if last.to != caller.party_id:
        raise Forbidden("not_holder", "only the party that holds the release can pass it on")
    if token is None:
        if not caller.is_person or kind is None or to is None:
            raise InvalidInput(
                "link_required", "send a pre-signed `link`, or sign in as a person with kind and to"
            )
        claims = link_claims(
            release,
            seq=len(links),
            kind=kind,
            sender=caller.party_id,
            to=to,
            prev=last.jws_hash,
            now=now,
            settings=settings,
        )
        token = await api.sign(caller.token, typ=LINK_TYP, claims=claims)
    claims = claims_of(token)
    target = claims.get("to")
    receiver_party = target if isinstance(target, str) else ""
    assignment = claims.get("kind") == LinkKind.assignment
    # A driver must be of the caller's party (checked below): the chain is verified first,
    # so that nobody is looked up for a person id that no verified signature names.
    new = StoredLink(
        seq=len(links),
        jws=token,
        status=LinkStatus.pending,
        ack=None,
        receiver_party=caller.party_id if assignment else receiver_party,
    )
    report = await verify(
        directory,
        facts_of(release),
        [*map(stored, links), new],
        settings=settings,
        now=now,
        complete=False,
    )
    if report.failure is not None:
        raise refused(report.failure)
    if assignment:
        receiver_party = await _driver_party(api, caller, receiver_party, now=now)
    link = link_row(
        token,
        release=release,
        receiver_party=receiver_party,
        submitted_by=caller.principal.actor,
        kid=kid_of(token) or "",
        received_at=now,
    )
    await insert_link(session, link)
    await append(session, "link.submitted", _link_event(link, caller))
    announce(
        session,
        webhook_events.NOMINATION_RECEIVED,
        release_id=release.id,
        facts=_facts(link),
        now=now,
    )
    return link


def _facts(link: Link, **extra: Any) -> dict[str, Any]:
    """What an event about a step says of it (no more than the release view shows)."""
    return {"seq": link.seq, "kind": link.kind, "from": link.from_party, "to": link.to, **extra}


def _link_event(link: Link, caller: Caller, **extra: Any) -> dict[str, Any]:
    return link_event(link, actor=caller.principal.actor, party_id=caller.party_id, **extra)


def _pending_link(links: Sequence[Link], seq: int) -> Link:
    link = next((link for link in links if link.seq == seq), None)
    if link is None:
        raise NotFound("link_not_found", f"the chain has no live link {seq}")
    if link.status != LinkStatus.pending:
        raise Conflict("link_not_pending", f"link {seq} is {link.status}")
    return link


def may_answer(caller: Caller, link: Link) -> bool:
    """Whether the caller is the one who may accept or decline the link: the driver himself
    for an assignment (never his carrier's dispatcher), else a person or client of the
    receiving party acting under `chain:write`."""
    if link.kind == LinkKind.assignment:
        return str(caller.principal.person_id) == link.to
    return caller.party_id == link.to and allows(caller, "chain:write")


def _ensure_receiver(caller: Caller, link: Link) -> None:
    if may_answer(caller, link):
        return
    if link.kind == LinkKind.assignment:
        raise Forbidden("not_receiver", "only the assigned driver can answer an assignment")
    raise Forbidden("not_receiver", "only the receiver of the link can answer it")


async def accept(
    session: AsyncSession,
    *,
    caller: Caller,
    release: Release,
    seq: int,
    ack: str | None,
    directory: IdentityDirectory,
    api: IdentityApi,
    settings: ReleaseSettings,
    now: datetime,
) -> Link:
    """The receiver accepts with a signed acknowledgement (pre-signed, or signed for him)."""
    ensure_open(release, now)
    links = await repository.live_links(session, release.id)
    link = _pending_link(links, seq)
    _ensure_receiver(caller, link)
    if ack is None:
        if not caller.is_person:
            raise InvalidInput("ack_required", "send a pre-signed `ack`, or sign in as a person")
        claims: dict[str, Any] = {
            "link": link.jws_hash,
            "iat": int(now.timestamp()),
            "jti": str(uuid.uuid4()),
        }
        if link.kind == LinkKind.assignment:
            claims["sub"] = link.to
        ack = await api.sign(caller.token, typ=ACK_TYP, claims=claims)
    ack_jti = jti_of(claims_of(ack))
    chain = [
        replace(stored(item), status=LinkStatus.accepted, ack=ack, ack_received_at=None)
        if item is link
        else stored(item)
        for item in links
    ]
    report = await verify(
        directory, facts_of(release), chain, settings=settings, now=now, complete=False
    )
    if report.failure is not None:
        raise refused(report.failure)
    if await repository.jti_used(session, ack_jti):
        raise Conflict("ack_replayed", "an acknowledgement with this jti was submitted before")
    repository.mark_accepted(
        session, link, ack=ack, ack_jti=ack_jti, actor=caller.principal.actor, now=now
    )
    await append(session, "link.accepted", _link_event(link, caller, ack_hash=link_hash(ack)))
    announce(
        session, webhook_events.LINK_ACCEPTED, release_id=release.id, facts=_facts(link), now=now
    )
    return link


async def decline(
    session: AsyncSession, *, caller: Caller, release: Release, seq: int, now: datetime
) -> Link:
    """The receiver turns the link down; its sender may make another."""
    ensure_open(release, now)
    link = _pending_link(await repository.live_links(session, release.id), seq)
    _ensure_receiver(caller, link)
    repository.mark_declined(session, link, actor=caller.principal.actor, now=now)
    await append(session, "link.declined", _link_event(link, caller))
    announce(
        session, webhook_events.LINK_DECLINED, release_id=release.id, facts=_facts(link), now=now
    )
    return link


def withdraw_from(
    session: AsyncSession, links: Sequence[Link], seq: int, *, actor: str, now: datetime
) -> list[int]:
    """Withdraw the live links from `seq` on; returns their seqs."""
    later = [link for link in links if link.seq >= seq]
    return repository.mark_withdrawn(session, later, actor=actor, now=now)


def next_step_completed(links: Sequence[Link], link: Link) -> bool:
    """Whether the step after `link` is done: its receiver's onward link accepted, or, for an
    assignment, the driver's acceptance."""
    if link.kind == LinkKind.assignment:
        return link.status == LinkStatus.accepted
    following = next((other for other in links if other.seq == link.seq + 1), None)
    return following is not None and following.status == LinkStatus.accepted


async def withdraw(
    session: AsyncSession, *, caller: Caller, release: Release, seq: int, now: datetime
) -> list[int]:
    """The signer takes his link back, and every later one with it."""
    ensure_open(release, now)
    links = await repository.live_links(session, release.id)
    link = next((link for link in links if link.seq == seq), None)
    if link is None:
        raise NotFound("link_not_found", f"the chain has no live link {seq}")
    if link.from_party != caller.party_id or not allows(caller, "chain:write"):
        raise Forbidden("not_signer", "only the party that signed the link can withdraw it")
    if link.kind == LinkKind.release:
        raise Conflict("use_cancel", "the release link is withdrawn by cancelling the release")
    if await gate_repository.used_at_gate(session, release.id):
        raise Conflict("chain_used_at_gate", "the chain has been used at the gate")
    if next_step_completed(links, link):
        raise Conflict(
            "next_step_completed", f"the step after link {seq} has been completed: it stands"
        )
    withdrawn = withdraw_from(session, links, seq, actor=caller.principal.actor, now=now)
    await append(session, "link.withdrawn", _link_event(link, caller, withdrawn=withdrawn))
    announce(
        session,
        webhook_events.LINK_WITHDRAWN,
        release_id=release.id,
        facts=_facts(link, withdrawn=withdrawn),
        now=now,
    )
    return withdrawn
