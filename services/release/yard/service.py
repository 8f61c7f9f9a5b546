"""Yard entries: the terminal says what is in its yard and which line may release it.

A release needs a current entry at its terminal naming the releasing line (docs/design.md, Domain
entry"). Only the terminal itself announces, corrects and withdraws its entries; each change
is audited. Taking a line's right away (withdrawing the entry, naming another line, or ending
the right before the line's open release ends) cancels that release: a right the terminal
no longer vouches for must not let a container out.
"""

import uuid
from datetime import UTC, datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from services.release.auth import Caller
from services.release.releases import repository as releases_repository
from services.release.releases import service as releases
from services.release.yard import repository
from services.release.yard.models import YardEntry
from services.release.yard.schemas import YardEntryCreate, YardEntryUpdate, YardEntryView
from shared.audit.events import append
from shared.problems import Conflict, Forbidden, InvalidInput, NotFound


def entry_not_found() -> NotFound:
    """The one answer for an entry that does not exist or is not the caller's terminal's."""
    return NotFound("yard_entry_not_found", "no such yard entry at your terminal")


def terminal_of(caller: Caller, named: str | None) -> str:
    """The terminal an announcement is for: the caller's own, never another's."""
    if named is not None and releases.parse_party(named, "terminal") != caller.party_id:
        raise Forbidden("yard_not_your_terminal", "a terminal announces only in its own yard")
    return caller.party_id


def _end(valid_until: datetime | None, now: datetime) -> datetime | None:
    if valid_until is None:
        return None
    end = valid_until.astimezone(UTC).replace(microsecond=0)
    if end <= now:
        raise InvalidInput("valid_until_past", "valid_until must lie in the future")
    return end


def _facts(entry: YardEntry) -> dict[str, object]:
    return {
        "entry_id": str(entry.id),
        "terminal": entry.terminal_id,
        "container": entry.container,
        "shipping_line": entry.shipping_line_id,
        "state": entry.state,
        "valid_until": int(entry.valid_until.timestamp()) if entry.valid_until else None,
    }


async def announce(
    session: AsyncSession,
    *,
    terminal_id: str,
    body: YardEntryCreate,
    actor: str,
    now: datetime,
) -> YardEntry:
    """Announce a container in the terminal's yard with the line holding its release right."""
    entry = YardEntry(
        id=uuid.uuid4(),
        terminal_id=terminal_id,
        container=releases.parse_container(body.container),
        shipping_line_id=releases.parse_party(body.shipping_line, "shipping_line"),
        state=body.state,
        valid_until=_end(body.valid_until, now),
        announced_by=actor,
        announced_at=now,
        updated_at=now,
    )
    if entry.shipping_line_id == terminal_id:
        raise InvalidInput("invalid_party_id", "shipping_line: the terminal itself")
    exists = Conflict(
        "yard_entry_exists", "the container has a live entry at this terminal: correct that one"
    )
    if await repository.live_entry(session, terminal_id, entry.container) is not None:
        raise exists
    if not await repository.insert_entry(session, entry):
        raise exists
    await append(session, "yard.announced", {**_facts(entry), "actor": actor})
    return entry


async def correct(
    session: AsyncSession,
    *,
    entry: YardEntry,
    body: YardEntryUpdate,
    actor: str,
    now: datetime,
) -> YardEntry:
    """Correct an entry; an open release the new facts no longer allow is cancelled."""
    before = _facts(entry)
    old_line = entry.shipping_line_id
    sent = body.model_fields_set
    if "shipping_line" in sent:
        if body.shipping_line is None:
            raise InvalidInput("invalid_party_id", "shipping_line: may not be null")
        line = releases.parse_party(body.shipping_line, "shipping_line")
        if line == entry.terminal_id:
            raise InvalidInput("invalid_party_id", "shipping_line: the terminal itself")
        entry.shipping_line_id = line
    if "state" in sent:
        if body.state is None:
            raise InvalidInput("invalid_state", "state: may not be null")
        entry.state = body.state
    if "valid_until" in sent:
        entry.valid_until = _end(body.valid_until, now)
    entry.updated_at = now
    repository.save(session, entry)
    cancelled = await _end_release_outside(session, entry, old_line, actor=actor, now=now)
    await append(
        session,
        "yard.corrected",
        {
            **_facts(entry),
            "before": before,
            "cancelled_release": cancelled,
            "actor": actor,
        },
    )
    return entry


async def withdraw(
    session: AsyncSession, *, entry: YardEntry, actor: str, now: datetime
) -> YardEntry:
    """Withdraw an entry: its line's right ends, and with it the line's open release."""
    entry.withdrawn_at, entry.withdrawn_by, entry.updated_at = now, actor, now
    repository.save(session, entry)
    cancelled = await _end_release_outside(
        session, entry, entry.shipping_line_id, actor=actor, now=now
    )
    await append(
        session,
        "yard.withdrawn",
        {**_facts(entry), "cancelled_release": cancelled, "actor": actor},
    )
    return entry


async def _end_release_outside(
    session: AsyncSession, entry: YardEntry, line: str, *, actor: str, now: datetime
) -> str | None:
    """Cancel the open release `line` made under the entry if the entry no longer allows it."""
    release = await releases_repository.open_release_at(
        session,
        container=entry.container,
        terminal_id=entry.terminal_id,
        shipping_line_id=line,
    )
    if release is None:
        return None
    allowed = (
        entry.withdrawn_at is None
        and entry.shipping_line_id == line
        and (entry.valid_until is None or release.valid_until <= entry.valid_until)
    )
    if allowed:
        return None
    await releases.cancel_unentitled(
        session, release=release, actor=actor, reason="yard_entry_changed", now=now
    )
    return str(release.id)


async def load_own(session: AsyncSession, terminal_id: str, entry_id: uuid.UUID) -> YardEntry:
    """A live entry of this terminal, locked; 404 `yard_entry_not_found` otherwise."""
    entry = await repository.get_own_live(session, terminal_id, entry_id)
    if entry is None:
        raise entry_not_found()
    return entry


def view(entry: YardEntry) -> YardEntryView:
    """An entry as the API shows it."""
    return YardEntryView(
        entry_id=entry.id,
        container=entry.container,
        terminal=entry.terminal_id,
        shipping_line=entry.shipping_line_id,
        state=entry.state,
        valid_until=entry.valid_until,
        announced_at=entry.announced_at,
        updated_at=entry.updated_at,
        withdrawn_at=entry.withdrawn_at,
    )
