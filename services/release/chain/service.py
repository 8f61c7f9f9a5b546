"""The chain of a release: verifying it as it stands, and each step that changes it.

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
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from services.release.auth import Caller, allows
from services.release.chain import repository
from services.release.chain.models import Link, LinkKind, LinkStatus
from services.release.chain.verify import (
    ACK_TYP,
    LINK_TYP,
    ChainReport,
    Evidence,
    ReleaseFacts,
    StoredLink,
    link_hash,
    parties_needed,
    verify_chain,
)
from services.release.gate import repository as gate_repository
from services.release.identity_client import IdentityApi, IdentityDirectory
from services.release.releases.models import Release, ReleaseStatus
from services.release.settings import ReleaseSettings
from shared import jose
from shared.audit.events import append
from shared.models import utcnow
from shared.problems import Conflict, Forbidden, InvalidInput, NotFound, Problem


class ChainRefused(Problem):
    """422: the chain the step would produce does not verify; `seq` names the failing link."""

    status = 422


def refused(report: ChainReport) -> ChainRefused:
    """The problem for a report's first failure."""
    assert report.failure is not None
    failure = report.failure
    return ChainRefused(failure.code, f"link {failure.seq}: {failure.detail}", seq=failure.seq)


def facts_of(release: Release) -> ReleaseFacts:
    """What every link of the release must agree with."""
    return ReleaseFacts(
        release_id=str(release.id),
        container=release.container,
        terminal=release.terminal_id,
        shipping_line=release.shipping_line_id,
        first_party=release.first_party_id,
        valid_until=int(release.valid_until.timestamp()),
        reference=release.reference,
    )


def stored(link: Link) -> StoredLink:
    """A stored link as the verifier sees it, judged at its receipt."""
    return StoredLink(
        seq=link.seq,
        jws=link.jws,
        status=link.status,
        ack=link.ack,
        receiver_party=link.receiver_party,
        received_at=link.created_at.timestamp(),
        ack_received_at=(
            link.decided_at.timestamp() if link.ack is not None and link.decided_at else None
        ),
    )


def kid_of(token: str | None) -> str | None:
    """The kid of a token's header, unverified; None if there is none."""
    if token is None:
        return None
    try:
        header, _ = jose.peek(token)
    except jose.TokenError:
        return None
    kid = header.get("kid")
    return kid if isinstance(kid, str) else None


async def verify(
    directory: IdentityDirectory,
    facts: ReleaseFacts,
    links: Sequence[StoredLink],
    *,
    settings: ReleaseSettings,
    now: datetime,
    complete: bool,
) -> ChainReport:
    """Fetch what the identity service says of the parties involved, then verify.

    Only parties something vouches for are fetched (`parties_needed`): the receiver of a link
    being received now is fetched when the verifier, having verified that link's signature,
    names it (`ChainReport.unfetched`), and the chain is verified again. A kid that no
    credential held carries may be a key certified since the last fetch: then the signer's
    (or acknowledger's) credentials are fetched again, once (and no more often than the
    directory's recheck time allows), and the chain verified again.
    """
    parties = parties_needed(facts, links)

    def judge(evidence: Evidence) -> ChainReport:
        return verify_chain(
            facts,
            links,
            evidence=evidence,
            now=now.timestamp(),
            max_links=settings.max_chain_links,
            complete=complete,
            cache=directory.verifier_cache,
            max_iat_age=settings.link_max_age_at_receipt_seconds,
            max_lifetime=settings.link_lifetime_days * 86400,
        )

    async def judge_vouched(kids: Sequence[tuple[str, str]] = ()) -> ChainReport:
        # Each round adds a party that a verified signature named: at most one per link.
        for _ in range(len(links) + 1):
            report = judge(await directory.evidence(parties, kids=kids))
            if report.unfetched is None or report.unfetched in parties:
                return report
            parties.add(report.unfetched)
        return report

    report = await judge_vouched()
    if report.failure is None or report.failure.code not in _UNKNOWN_KEY:
        return report
    return await judge_vouched(_signing_kids(links, parties))


_UNKNOWN_KEY = frozenset({"link_key_unknown", "ack_key_unknown"})


def _signing_kids(links: Sequence[StoredLink], parties: set[str]) -> list[tuple[str, str]]:
    """(party, kid) of every link's signer and acknowledger, as the tokens claim, for the
    parties already vouched for (a kid of anyone else costs no fetch)."""
    kids: list[tuple[str, str]] = []
    for link in links:
        try:
            _, claims = jose.peek(link.jws)
        except jose.TokenError:
            continue
        signer, kid = claims.get("from"), kid_of(link.jws)
        if isinstance(signer, str) and signer in parties and kid:
            kids.append((signer, kid))
        ack_kid = kid_of(link.ack)
        if ack_kid and link.receiver_party in parties:
            kids.append((link.receiver_party, ack_kid))
    return kids


def holder_of(links: Sequence[Link]) -> Link | None:
    """The last accepted link: its `to` holds the right to the container."""
    accepted = [link for link in links if link.status == LinkStatus.accepted]
    return accepted[-1] if accepted else None


def claims_of(token: str) -> dict[str, Any]:
    """A token's claims, unverified (the chain verification judges them); 422 if unreadable."""
    try:
        _, claims = jose.peek(token)
    except jose.TokenError as exc:
        raise InvalidInput(exc.code, exc.detail) from exc
    return claims


def _epoch(claims: dict[str, Any], name: str) -> datetime:
    value = claims.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInput("link_claims_invalid", f"{name} must be a NumericDate")
    return datetime.fromtimestamp(value, UTC)


def _jti(claims: dict[str, Any]) -> str:
    jti = claims.get("jti")
    if not isinstance(jti, str) or not 0 < len(jti) <= 200:
        raise InvalidInput("link_claims_invalid", "jti must be a string of 1 to 200 characters")
    return jti


def link_row(
    token: str,
    *,
    release: Release,
    receiver_party: str,
    submitted_by: str,
    kid: str,
    received_at: datetime | None = None,
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
        jti=_jti(claims),
        kid=kid,
        iat=_epoch(claims, "iat"),
        exp=_epoch(claims, "exp"),
        submitted_by=submitted_by,
        created_at=utcnow() if received_at is None else received_at,
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


async def insert_link(session: AsyncSession, link: Link) -> None:
    """Add a verified link; a jti seen before (here or on any release) is a replay."""
    if await repository.jti_used(session, link.jti):
        raise Conflict("link_replayed", "a link with this jti has been submitted before")
    try:
        async with session.begin_nested():
            session.add(link)
    except IntegrityError as exc:
        # Another request changed the chain (or used the jti) at the same moment.
        raise Conflict("chain_changed", "the chain changed meanwhile; reload and retry") from exc


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
    if not report.ok:
        raise refused(report)
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
    return link


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


def _link_event(link: Link, caller: Caller, **extra: Any) -> dict[str, Any]:
    return link_event(link, actor=caller.principal.actor, party_id=caller.party_id, **extra)


def _pending_link(links: Sequence[Link], seq: int) -> Link:
    link = next((link for link in links if link.seq == seq), None)
    if link is None:
        raise NotFound("link_not_found", f"the chain has no live link {seq}")
    if link.status != LinkStatus.pending:
        raise Conflict("link_not_pending", f"link {seq} is {link.status}")
    return link


def _ensure_receiver(caller: Caller, link: Link) -> None:
    if link.kind == LinkKind.assignment:
        if str(caller.principal.person_id) != link.to:
            raise Forbidden("not_receiver", "only the assigned driver can answer an assignment")
        return
    if caller.party_id != link.to or not allows(caller, "chain:write"):
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
    ack_jti = _jti(claims_of(ack))
    chain = [
        replace(stored(item), status=LinkStatus.accepted, ack=ack, ack_received_at=None)
        if item is link
        else stored(item)
        for item in links
    ]
    report = await verify(
        directory, facts_of(release), chain, settings=settings, now=now, complete=False
    )
    if not report.ok:
        raise refused(report)
    if await repository.jti_used(session, ack_jti):
        raise Conflict("ack_replayed", "an acknowledgement with this jti was submitted before")
    link.status = LinkStatus.accepted
    link.ack, link.ack_jti = ack, ack_jti
    link.decided_by, link.decided_at = caller.principal.actor, now
    session.add(link)
    await append(session, "link.accepted", _link_event(link, caller, ack_hash=link_hash(ack)))
    return link


async def decline(
    session: AsyncSession, *, caller: Caller, release: Release, seq: int, now: datetime
) -> Link:
    """The receiver turns the link down; its sender may make another."""
    ensure_open(release, now)
    link = _pending_link(await repository.live_links(session, release.id), seq)
    _ensure_receiver(caller, link)
    link.status = LinkStatus.declined
    link.decided_by, link.decided_at = caller.principal.actor, now
    session.add(link)
    await append(session, "link.declined", _link_event(link, caller))
    return link


def withdraw_from(
    session: AsyncSession, links: Sequence[Link], seq: int, *, actor: str, now: datetime
) -> list[int]:
    """Withdraw the live links from `seq` on; returns their seqs."""
    withdrawn = []
    for link in links:
        if link.seq >= seq:
            link.status = LinkStatus.withdrawn
            link.decided_by, link.decided_at = actor, now
            session.add(link)
            withdrawn.append(link.seq)
    return withdrawn


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
    return withdrawn
