"""Releases: made by a shipping line with a signed release link, cancelled, held, shown."""

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlmodel.ext.asyncio.session import AsyncSession

from services.release.auth import Caller
from services.release.chain import repository as chain_repository
from services.release.chain import service as chain
from services.release.chain.models import Link, LinkKind, LinkStatus
from services.release.chain.rows import holder_of, link_claims, link_row
from services.release.chain.tokens import claims_of, kid_of
from services.release.chain.verification import facts_of, refused, verify
from services.release.chain.verify import LINK_TYP, StoredLink
from services.release.identity_api import IdentityApi
from services.release.identity_directory import IdentityDirectory
from services.release.releases import repository
from services.release.releases.models import Hold, HoldKind, Release, ReleaseStatus
from services.release.releases.repository import OVERSEERS
from services.release.releases.schemas import (
    GateResult,
    HoldView,
    Lights,
    LinkSummary,
    ReleaseCreate,
    ReleaseView,
    WorkItem,
    WorkLink,
    WorkState,
)
from services.release.settings import ReleaseSettings
from services.release.webhooks import events as webhook_events
from services.release.webhooks.outbox import record as announce
from services.release.yard import repository as yard_repository
from shared import iso6346
from shared.audit.events import append
from shared.eori import InvalidEori, parse_eori
from shared.problems import Conflict, Forbidden, InvalidInput, NotFound


def release_not_found() -> NotFound:
    """The one answer for a release that does not exist or that the caller may not see."""
    return NotFound("release_not_found", "no such release")


class NotEntitled(Forbidden):
    """403 `release_not_entitled`: the one answer to a release without the right.

    The same whether nobody announced the container, another line holds the right, the
    terminal named is no terminal, or the container has an open release elsewhere: a caller
    without the right learns nothing about the container from it.
    """

    outcome = "refused"

    def __init__(self, container: str) -> None:
        super().__init__(
            "release_not_entitled",
            "no current yard entry at this terminal names your line for this container",
        )
        self.container = container


class OpenRelease(Conflict):
    """409 `release_open_for_container`, told only to the line entitled to release it."""

    outcome = "conflict"

    def __init__(self, container: str) -> None:
        super().__init__("release_open_for_container", "the container already has an open release")
        self.container = container


def parse_container(text: str) -> str:
    """An ISO 6346 container number, normalised; 422 `invalid_container` otherwise."""
    try:
        return iso6346.parse(text)
    except ValueError as exc:
        raise InvalidInput("invalid_container", str(exc)) from exc


def parse_party(text: str, field: str) -> str:
    """A party id (EU.EORI.…); 422 `invalid_party_id` otherwise."""
    try:
        return parse_eori(text)
    except InvalidEori as exc:
        raise InvalidInput("invalid_party_id", f"{field}: {exc}") from exc


def _release_id_of(token: str) -> uuid.UUID:
    claims = claims_of(token)
    try:
        return uuid.UUID(str(claims["release_id"]))
    except (KeyError, ValueError):
        raise InvalidInput(
            "link_claims_invalid", "a pre-signed release link carries the release_id (a UUID)"
        ) from None


async def create_release(
    session: AsyncSession,
    *,
    caller: Caller,
    body: ReleaseCreate,
    directory: IdentityDirectory,
    api: IdentityApi,
    settings: ReleaseSettings,
    now: datetime,
) -> Release:
    """Open a release with its signed release link (seq 0), pending the first party."""
    container = parse_container(body.container)
    terminal = parse_party(body.terminal, "terminal")
    first_party = parse_party(body.release_to, "release_to")
    valid_until = body.valid_until.astimezone(UTC).replace(microsecond=0)
    if valid_until <= now:
        raise InvalidInput("valid_until_past", "valid_until must lie in the future")
    if body.link is None and not caller.is_person:
        raise InvalidInput(
            "link_required", "an API client sends a pre-signed `link`; people sign custodially"
        )
    # Judged before any signing or link verification, so that nothing later can tell a
    # caller without the right more than this one answer.
    entry = await yard_repository.current_entry(session, terminal, container, now=now)
    if entry is None or entry.shipping_line_id != caller.party_id:
        raise NotEntitled(container)
    latest = latest_valid_until(entry.valid_until, settings=settings, now=now)
    if valid_until > latest:
        raise InvalidInput(
            "valid_until_too_late",
            f"the release right for this container ends at {latest.isoformat()}",
        )
    release = Release(
        id=_release_id_of(body.link) if body.link else uuid.uuid4(),
        container=container,
        terminal_id=terminal,
        shipping_line_id=caller.party_id,
        first_party_id=first_party,
        reference=body.reference,
        origin=body.origin,
        valid_until=valid_until,
        created_by=caller.principal.actor,
        created_at=now,
        updated_at=now,
    )
    token = body.link
    if token is None:
        claims = link_claims(
            release,
            seq=0,
            kind=LinkKind.release,
            sender=caller.party_id,
            to=first_party,
            prev=None,
            now=now,
            settings=settings,
        )
        token = await api.sign(caller.token, typ=LINK_TYP, claims=claims)
    first = StoredLink(
        seq=0, jws=token, status=LinkStatus.pending, ack=None, receiver_party=first_party
    )
    report = await verify(
        directory, facts_of(release), [first], settings=settings, now=now, complete=False
    )
    if report.failure is not None:
        # With a pre-signed link, a mismatch with the body is `link_terms_mismatch` & co.
        raise refused(report.failure)
    if await repository.release_exists(session, release.id):
        raise Conflict("release_exists", "a release with this id exists already")
    await _make_room_for(session, container, now=now)
    if not await repository.insert_release(session, release):
        raise OpenRelease(container)
    link = link_row(
        token,
        release=release,
        receiver_party=first_party,
        submitted_by=caller.principal.actor,
        kid=kid_of(token) or "",
        received_at=now,  # judged at this moment above; the record says so
    )
    await chain.insert_link(session, link)
    await append(
        session,
        "release.created",
        {
            "release_id": str(release.id),
            "container": container,
            "terminal": terminal,
            "shipping_line": caller.party_id,
            "release_to": first_party,
            "valid_until": int(valid_until.timestamp()),
            "reference": body.reference,
            "origin": body.origin,
            "link_hash": link.jws_hash,
            "received_at": link.created_at.isoformat(),
            "actor": caller.principal.actor,
        },
    )
    announce(
        session,
        webhook_events.NOMINATION_RECEIVED,
        release_id=release.id,
        facts={"seq": 0, "kind": LinkKind.release, "from": caller.party_id, "to": first_party},
        now=now,
    )
    return release


def latest_valid_until(
    entry_end: datetime | None, *, settings: ReleaseSettings, now: datetime
) -> datetime:
    """The latest a release may be valid: the service's bound, and the yard entry's end."""
    bound = now.replace(microsecond=0) + timedelta(days=settings.release_max_days)
    return min(bound, entry_end) if entry_end is not None else bound


async def cancel_unentitled(
    session: AsyncSession, *, release: Release, actor: str, reason: str, now: datetime
) -> list[int]:
    """The terminal took the line's release right back: its open release ends with it."""
    if not await repository.close_if_open(
        session, release.id, status=ReleaseStatus.cancelled, now=now
    ):
        return []
    links = await chain_repository.live_links(session, release.id)
    withdrawn = chain.withdraw_from(session, links, 0, actor=actor, now=now)
    await append(
        session,
        "release.cancelled",
        {"release_id": str(release.id), "withdrawn": withdrawn, "actor": actor, "reason": reason},
    )
    announce(
        session,
        webhook_events.RELEASE_CANCELLED,
        release_id=release.id,
        facts={"withdrawn": withdrawn, "reason": reason},
        now=now,
    )
    return withdrawn


async def _make_room_for(session: AsyncSession, container: str, *, now: datetime) -> None:
    """An open release past its validity is marked expired, so a new one can be made."""
    current = await repository.open_for_container(session, container)
    if current is None:
        return
    if current.valid_until > now:
        raise OpenRelease(container)
    if await repository.close_if_open(session, current.id, status=ReleaseStatus.expired, now=now):
        await append(
            session, "release.expired", {"release_id": str(current.id), "container": container}
        )


async def cancel(
    session: AsyncSession, *, caller: Caller, release: Release, now: datetime
) -> Release:
    """The shipping line withdraws the release; every live link is withdrawn with it."""
    if release.shipping_line_id != caller.party_id:
        raise Forbidden("not_shipping_line", "only the releasing shipping line can cancel")
    chain.ensure_open(release, now)
    if not await repository.close_if_open(
        session, release.id, status=ReleaseStatus.cancelled, now=now
    ):
        raise Conflict("release_not_open", "the release is no longer open")
    links = await chain_repository.live_links(session, release.id)
    withdrawn = chain.withdraw_from(session, links, 0, actor=caller.principal.actor, now=now)
    await append(
        session,
        "release.cancelled",
        {"release_id": str(release.id), "withdrawn": withdrawn, "actor": caller.principal.actor},
    )
    announce(
        session,
        webhook_events.RELEASE_CANCELLED,
        release_id=release.id,
        facts={"withdrawn": withdrawn},
        now=now,
    )
    await repository.reload(session, release)
    return release


def _may_hold(caller: Caller, release: Release, kind: HoldKind) -> None:
    if kind == HoldKind.customs and not caller.has("customs"):
        raise Forbidden("hold_not_allowed", "a customs hold is placed by customs")
    if kind == HoldKind.terminal and release.terminal_id != caller.party_id:
        raise Forbidden("hold_not_allowed", "a terminal hold is placed by the release's terminal")


async def place_hold(
    session: AsyncSession,
    *,
    caller: Caller,
    release: Release,
    kind: HoldKind,
    reason: str | None,
    now: datetime,
) -> Hold:
    """Put a hold on (idempotent: a second PUT keeps the first hold)."""
    _may_hold(caller, release, kind)
    # Judged before the idempotent repeat: a repeat must not show a closed release that a
    # first PUT would not (both answer 409).
    if release.status != ReleaseStatus.open:
        raise Conflict("release_not_open", f"the release is {release.status}")
    return await add_hold(
        session,
        release_id=release.id,
        kind=kind,
        party_id=caller.party_id,
        actor=caller.principal.actor,
        reason=reason,
        now=now,
    )


async def add_hold(
    session: AsyncSession,
    *,
    release_id: uuid.UUID,
    kind: HoldKind,
    party_id: str,
    actor: str,
    reason: str | None,
    now: datetime,
) -> Hold:
    """Put a hold on a release whoever decided it (a caller allowed to, or an inspection's
    finding); the hold held already is kept. Logged."""
    existing = await repository.get_hold(session, release_id, kind)
    if existing is not None:
        return existing
    hold = Hold(
        release_id=release_id,
        kind=kind,
        placed_by_party=party_id,
        placed_by=actor,
        reason=reason,
        placed_at=now,
    )
    repository.add_hold(session, hold)
    await append(
        session,
        "hold.placed",
        {"release_id": str(release_id), "kind": kind, "reason": reason, "actor": actor},
    )
    announce(
        session, webhook_events.HOLD_PLACED, release_id=release_id, facts={"kind": kind}, now=now
    )
    return hold


async def lift_hold(
    session: AsyncSession, *, caller: Caller, release: Release, kind: HoldKind
) -> None:
    """Lift a hold; 404 `hold_not_found` if there is none."""
    _may_hold(caller, release, kind)
    hold = await repository.get_hold(session, release.id, kind)
    if hold is None:
        raise NotFound("hold_not_found", f"the release has no {kind} hold")
    await repository.delete_hold(session, hold)
    await append(
        session,
        "hold.lifted",
        {"release_id": str(release.id), "kind": kind, "actor": caller.principal.actor},
    )
    announce(session, webhook_events.HOLD_LIFTED, release_id=release.id, facts={"kind": kind})


def effective_status(release: Release, now: datetime) -> str:
    """The status, with an open release past its validity shown as expired."""
    if release.status == ReleaseStatus.open and release.valid_until <= now:
        return ReleaseStatus.expired
    return release.status


def _oversees(caller: Caller) -> bool:
    return any(caller.has(role) for role in OVERSEERS)


def shows_reference(caller: Caller, release: Release) -> bool:
    """The bill-of-lading reference is for the shipping line, its first party, the
    terminal and the overseers; later parties and drivers do not need it."""
    if caller.is_driver:
        return False
    return _oversees(caller) or caller.party_id in (
        release.shipping_line_id,
        release.first_party_id,
        release.terminal_id,
    )


def _hold_view(caller: Caller, hold: Hold) -> HoldView:
    if _oversees(caller) or caller.party_id == hold.placed_by_party:
        return HoldView(
            kind=hold.kind,
            placed_at=hold.placed_at,
            placed_by_party=hold.placed_by_party,
            reason=hold.reason,
        )
    return HoldView(kind=hold.kind, placed_at=hold.placed_at)


def shown_links(caller: Caller, links: Sequence[Link]) -> list[Link]:
    """The live links this caller is shown: a driver his own assignment, not who passed the
    release on before him; everyone else who may read the release, the whole chain."""
    if caller.is_driver:
        return [link for link in links if link.to == str(caller.principal.person_id)]
    return list(links)


def _lights(status: str, *, customs_hold: bool, terminal_hold: bool) -> Lights:
    return Lights(
        commercial="green" if status == ReleaseStatus.open else "red",
        customs="red" if customs_hold else "green",
        terminal="red" if terminal_hold else "green",
    )


def view(
    caller: Caller,
    release: Release,
    *,
    links: Sequence[Link],
    holds: Sequence[Hold],
    now: datetime,
) -> ReleaseView:
    """The release as this caller may see it."""
    status = effective_status(release, now)
    kinds = {hold.kind for hold in holds}
    holder = holder_of(links)
    driver = holder.to if holder and holder.kind == LinkKind.assignment else None
    holder_id = holder.to if holder and not caller.is_driver else None
    return ReleaseView(
        release_id=release.id,
        container=release.container,
        terminal=release.terminal_id,
        shipping_line=release.shipping_line_id,
        release_to=release.first_party_id,
        valid_until=release.valid_until,
        reference=release.reference if shows_reference(caller, release) else None,
        origin=release.origin if shows_reference(caller, release) else None,
        status=status,
        lights=_lights(
            status,
            customs_hold=HoldKind.customs in kinds,
            terminal_hold=HoldKind.terminal in kinds,
        ),
        holds=[_hold_view(caller, hold) for hold in holds],
        holder=holder_id,
        driver=driver,
        links=[
            LinkSummary(
                seq=link.seq,
                kind=link.kind,
                from_party=link.from_party,
                to=link.to,
                status=link.status,
                link_hash=link.jws_hash,
                created_at=link.created_at,
                decided_at=link.decided_at,
            )
            for link in shown_links(caller, links)
        ],
        created_at=release.created_at,
        closed_at=release.closed_at,
    )


def awaits(caller: Caller, link: Link) -> bool:
    """Whether the link is pending with the caller as the one who may answer it, by the
    rule the chain's `accept` applies (`chain.may_answer`)."""
    return link.status == LinkStatus.pending and chain.may_answer(caller, link)


def work_item(
    caller: Caller,
    release: Release,
    *,
    links: Sequence[Link],
    customs_hold: bool,
    terminal_hold: bool,
    now: datetime,
    gate: tuple[str, datetime] | None = None,
) -> WorkItem:
    """A release on the caller's work list: no more than `view` shows him of it (and, for a
    driver, the gate's latest answer to him)."""
    status = effective_status(release, now)
    shown = shown_links(caller, links)
    return WorkItem(
        release_id=release.id,
        container=release.container,
        terminal=release.terminal_id,
        status=status,
        valid_until=release.valid_until,
        created_at=release.created_at,
        lights=_lights(status, customs_hold=customs_hold, terminal_hold=terminal_hold),
        chain=[
            WorkLink(
                seq=link.seq,
                kind=link.kind,
                from_party=link.from_party,
                to=link.to,
                status=link.status,
            )
            for link in shown
        ],
        # A step of a release that is no longer open cannot be accepted (409): not work.
        awaiting_me=[link.seq for link in shown if awaits(caller, link)]
        if status == ReleaseStatus.open
        else [],
        gate=GateResult(decision=gate[0], decided_at=gate[1]) if gate else None,
    )


async def work(
    session: AsyncSession,
    *,
    caller: Caller,
    state: WorkState,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
    now: datetime,
) -> tuple[list[WorkItem], bool]:
    """A page of the caller's work, newest first, and whether another page follows: two
    statements whatever the page's size (three for a driver: his gate answers).

    The releases are those `repository.visible_to` lets the caller read, so the list never
    shows a release a read would refuse. Customs and port security see every release: a
    list of them all is a bulk export no read offers, and no step of a chain waits for
    them, so they are refused (403 `overseer_not_allowed`).
    """
    if _oversees(caller):
        raise Forbidden(
            "overseer_not_allowed",
            "customs and port security look releases up by id or container, not as a list",
        )
    rows = await repository.work_page(
        session, caller, open_only=state == "open", after=after, limit=limit + 1, now=now
    )
    more = len(rows) > limit
    rows = rows[:limit]
    release_ids = [release.id for release, *_ in rows]
    chains = await chain_repository.live_links_of(session, release_ids)
    person_id = caller.principal.person_id
    answers = (
        await repository.latest_gate_answers(session, release_ids, person_id)
        if caller.is_driver and person_id is not None
        else {}
    )
    items = [
        work_item(
            caller,
            release,
            links=chains[release.id],
            customs_hold=customs,
            terminal_hold=terminal,
            now=now,
            gate=answers.get(release.id),
        )
        for release, customs, terminal in rows
    ]
    return items, more


async def load_view(
    session: AsyncSession, caller: Caller, release: Release, *, now: datetime
) -> ReleaseView:
    """Read the links and holds, and show the release."""
    links = await chain_repository.live_links(session, release.id)
    return view(
        caller, release, links=links, holds=await repository.holds(session, release.id), now=now
    )
