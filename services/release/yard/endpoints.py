"""Yard entries over HTTP: the terminal's system announces, corrects and withdraws them."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from services.release.access.service import record_read
from services.release.auth import Caller
from services.release.deps import NowDep, Reader, require
from services.release.releases.service import parse_container
from services.release.yard import repository, service
from services.release.yard.models import YardEntry
from services.release.yard.schemas import (
    YardEntryCreate,
    YardEntryList,
    YardEntryUpdate,
    YardEntryView,
)
from shared.deps import ReadSessionDep, SessionDep
from shared.problems import problem_responses

router = APIRouter(prefix="/v1/yard/entries", tags=["yard"])


# The terminal's own system (its client with the `gate` scope) or its operators: the same
# people and systems that run the terminal's gate keep its yard.
Terminal = Annotated[Caller, Depends(require("gate", "terminal"))]


async def own_entry(entry_id: uuid.UUID, caller: Terminal, session: SessionDep) -> YardEntry:
    """The caller's terminal's live entry of the path, locked; 404 otherwise."""
    return await service.load_own(session, caller.party_id, entry_id)


OwnEntry = Annotated[YardEntry, Depends(own_entry)]


@router.post(
    "",
    status_code=201,
    summary="Announce a container in the yard (terminal)",
    responses=problem_responses(401, 403, 409, 422, 503),
)
async def announce(
    body: YardEntryCreate, caller: Terminal, session: SessionDep, response: Response, now: NowDep
) -> YardEntryView:
    """Name the shipping line that holds the release right; 409 `yard_entry_exists`."""
    entry = await service.announce(
        session,
        terminal_id=service.terminal_of(caller, body.terminal),
        body=body,
        actor=caller.principal.actor,
        now=now,
    )
    response.headers["Location"] = f"/v1/yard/entries/{entry.id}"
    return service.view(entry)


@router.get(
    "",
    summary="The yard entries the caller may see",
    responses=problem_responses(401, 403, 422, 503),
)
async def search_entries(
    request: Request,
    caller: Reader,
    session: ReadSessionDep,
    now: NowDep,
    container: Annotated[str | None, Query(max_length=32)] = None,
    include_withdrawn: bool = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> YardEntryList:
    """A terminal sees its own yard, a line the live entries naming it, overseers all."""
    number = parse_container(container) if container is not None else None
    entries = await repository.search_visible(
        session, caller, container=number, include_withdrawn=include_withdrawn, limit=limit
    )
    await record_read(
        request.app.state.sessions,
        caller,
        action="yard.search",
        outcome="shown" if entries else "not_found",
        now=now,
        container=number,
        results=len(entries),
    )
    return YardEntryList(entries=[service.view(entry) for entry in entries])


@router.patch(
    "/{entry_id}",
    summary="Correct a yard entry (terminal)",
    responses=problem_responses(401, 403, 404, 422, 503),
)
async def correct_entry(
    entry: OwnEntry, body: YardEntryUpdate, caller: Terminal, session: SessionDep, now: NowDep
) -> YardEntryView:
    """Naming another line (or ending the right sooner) cancels the old line's open release."""
    await service.correct(session, entry=entry, body=body, actor=caller.principal.actor, now=now)
    return service.view(entry)


@router.delete(
    "/{entry_id}",
    summary="Withdraw a yard entry (terminal)",
    responses=problem_responses(401, 403, 404, 422, 503),
)
async def withdraw_entry(
    entry: OwnEntry, caller: Terminal, session: SessionDep, now: NowDep
) -> YardEntryView:
    """The line's release right ends, and with it the line's open release of the container."""
    await service.withdraw(session, entry=entry, actor=caller.principal.actor, now=now)
    return service.view(entry)
