"""Releases over HTTP: make, read, search, list the caller's work, cancel, hold."""

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlmodel.ext.asyncio.session import AsyncSession

from services.release.access.service import add_read, record_read
from services.release.auth import Caller
from services.release.deps import (
    CurrentCaller,
    DirectoryDep,
    HoldPlacer,
    IdentityApiDep,
    NowDep,
    Reader,
    SettingsDep,
    ShippingLine,
)
from services.release.releases import repository, service
from services.release.releases.models import HoldKind, Release
from services.release.releases.schemas import (
    HoldPlace,
    ReleaseCreate,
    ReleaseList,
    ReleaseView,
    WorkItem,
    WorkPage,
    WorkState,
)
from shared.db import transaction
from shared.deps import ReadSessionDep, SessionDep
from shared.paging import next_cursor, read_cursor
from shared.problems import InvalidInput, problem_responses

router = APIRouter(prefix="/v1/releases", tags=["releases"])


async def locked_release(
    release_id: uuid.UUID,
    request: Request,
    caller: CurrentCaller,
    session: SessionDep,
    now: NowDep,
) -> Release:
    """The release of the path, locked for the change; 404 if the caller may not see it.

    The 404 is an attempt on a release the caller has no part in, logged like a read.
    """
    release = await repository.get_visible(session, caller, release_id, for_update=True)
    if release is None:
        # The entry is written apart; on SQLite this request's write lock must go first.
        await session.rollback()
        await record_read(
            request.app.state.sessions,
            caller,
            action="release.change",
            outcome="not_found",
            now=now,
            release_id=release_id,
        )
        raise service.release_not_found()
    return release


LockedRelease = Annotated[Release, Depends(locked_release)]


async def read_release(
    request: Request,
    caller: Caller,
    session: AsyncSession,
    release_id: uuid.UUID,
    action: str,
    *,
    now: datetime,
) -> Release:
    """A release for reading, the read recorded in the access log whatever its outcome."""
    release = await repository.get_visible(session, caller, release_id)
    await record_read(
        request.app.state.sessions,
        caller,
        action=action,
        outcome="shown" if release else "not_found",
        now=now,
        release_id=release_id,
        container=release.container if release else None,
        results=1 if release else 0,
    )
    if release is None:
        raise service.release_not_found()
    return release


@router.post(
    "",
    status_code=201,
    summary="Release a container (shipping line)",
    responses=problem_responses(401, 403, 409, 422, 503),
)
async def create_release(
    body: ReleaseCreate,
    caller: ShippingLine,
    session: SessionDep,
    directory: DirectoryDep,
    api: IdentityApiDep,
    settings: SettingsDep,
    request: Request,
    response: Response,
    now: NowDep,
) -> ReleaseView:
    """With `link` a pre-signed release link; without, the custodial key signs for the person.

    Only the line a current yard entry at the terminal names may release (403
    `release_not_entitled`, the same answer whatever is missing), and only until the
    entry's end and `release_max_days` (422 `valid_until_too_late`).
    """
    try:
        release = await service.create_release(
            session,
            caller=caller,
            body=body,
            directory=directory,
            api=api,
            settings=settings,
            now=now,
        )
    except (service.NotEntitled, service.OpenRelease) as refusal:
        # Protective monitoring: who tried to release which container, and what he was told.
        # Written apart from the request, which rolls back (on SQLite its lock goes first).
        await session.rollback()
        await record_read(
            request.app.state.sessions,
            caller,
            action="release.create",
            outcome=refusal.outcome,
            now=now,
            container=refusal.container,
        )
        raise
    response.headers["Location"] = f"/v1/releases/{release.id}"
    return await service.load_view(session, caller, release, now=now)


@router.get(
    "",
    summary="The releases of a container that the caller may see",
    responses=problem_responses(401, 403, 422, 503),
)
async def search_releases(
    request: Request,
    caller: Reader,
    session: ReadSessionDep,
    container: Annotated[str, Query(max_length=32)],
    now: NowDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> ReleaseList:
    """Search by container number; what the caller may not see is simply not there."""
    number = service.parse_container(container)
    releases = await repository.search_visible(session, caller, container=number, limit=limit)
    await record_read(
        request.app.state.sessions,
        caller,
        action="release.search",
        outcome="shown" if releases else "not_found",
        now=now,
        container=number,
        results=len(releases),
    )
    return ReleaseList(
        releases=[await service.load_view(session, caller, r, now=now) for r in releases]
    )


def _work_cursor(text: str | None) -> tuple[datetime, uuid.UUID] | None:
    """The cursor of a work page; 422 `cursor_invalid` also for a moment that has no UTC
    equivalent (year 1 east of Greenwich), which the database could not be asked about."""
    after = read_cursor(text)
    if after is not None:
        try:
            after[0].astimezone(UTC)
        except OverflowError:
            raise InvalidInput(
                "cursor_invalid", "the cursor is not one this service gave"
            ) from None
    return after


async def _record_work_read(
    request: Request, caller: Caller, items: list[WorkItem], *, now: datetime
) -> None:
    """One `release.work` entry per release shown, so that "who saw this container" finds a
    listing as it finds a read; an empty page is one `not_found` entry, as a search is."""
    if not items:
        await record_read(
            request.app.state.sessions, caller, action="release.work", outcome="not_found", now=now
        )
        return
    async with transaction(request.app.state.sessions) as session:
        for item in items:
            add_read(
                session,
                caller,
                action="release.work",
                release_id=item.release_id,
                container=item.container,
                now=now,
            )


# Declared before `/{release_id}`: Starlette takes the first route whose path matches, and
# `/{release_id}` would take `work` and refuse it as no UUID (tests/release/test_work_list.py).
@router.get(
    "/work",
    summary="The caller's work: the releases whose chain he is part of, newest first",
    responses=problem_responses(401, 403, 422, 503),
)
async def list_work(
    request: Request,
    caller: Reader,
    session: ReadSessionDep,
    now: NowDep,
    state: WorkState = "open",
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> WorkPage:
    """The releases the caller may read, with their lights, chain and `awaiting_me`.

    A party's people and clients see the releases it made, received or handed on; a driver
    those with a live assignment to him; a terminal those at its terminal. `state=open`
    (the default) keeps the open ones, `all` adds those that ended. Problems: 403
    `overseer_not_allowed` (customs and port security), `role_required`, `scope_required`;
    422 `cursor_invalid`, `invalid_request` (a `state` or `limit` out of range).
    """
    after = _work_cursor(cursor)
    items, more = await service.work(
        session, caller=caller, state=state, after=after, limit=limit, now=now
    )
    await _record_work_read(request, caller, items, now=now)
    last = items[-1] if more else None
    return WorkPage(
        releases=items, next=next_cursor(last.created_at, last.release_id) if last else None
    )


@router.get(
    "/{release_id}",
    summary="One release",
    responses=problem_responses(401, 403, 404, 422, 503),
)
async def get_release(
    release_id: uuid.UUID, request: Request, caller: Reader, session: ReadSessionDep, now: NowDep
) -> ReleaseView:
    """The release with its lights, holds and chain summary; 404 `release_not_found`."""
    release = await read_release(request, caller, session, release_id, "release.read", now=now)
    return await service.load_view(session, caller, release, now=now)


@router.post(
    "/{release_id}/cancel",
    summary="Cancel a release (shipping line)",
    responses=problem_responses(401, 403, 404, 409, 422, 503),
)
async def cancel_release(
    release: LockedRelease, caller: ShippingLine, session: SessionDep, now: NowDep
) -> ReleaseView:
    """The release becomes `cancelled` and every live link is withdrawn."""
    await service.cancel(session, caller=caller, release=release, now=now)
    add_read(
        session,
        caller,
        action="release.cancel",
        release_id=release.id,
        container=release.container,
        now=now,
    )
    return await service.load_view(session, caller, release, now=now)


@router.put(
    "/{release_id}/holds/{kind}",
    summary="Place a hold",
    responses=problem_responses(401, 403, 404, 409, 422, 503),
)
async def place_hold(
    kind: HoldKind,
    release: LockedRelease,
    caller: HoldPlacer,
    session: SessionDep,
    now: NowDep,
    body: HoldPlace | None = None,
) -> ReleaseView:
    """`customs` by customs, `terminal` by the release's terminal; idempotent.

    Every answer shows the release, so every one is a logged read, the repeats included.
    """
    await service.place_hold(
        session,
        caller=caller,
        release=release,
        kind=kind,
        reason=body.reason if body else None,
        now=now,
    )
    add_read(
        session,
        caller,
        action="hold.place",
        release_id=release.id,
        container=release.container,
        now=now,
    )
    return await service.load_view(session, caller, release, now=now)


@router.delete(
    "/{release_id}/holds/{kind}",
    summary="Lift a hold",
    responses=problem_responses(401, 403, 404, 422, 503),
)
async def lift_hold(
    kind: HoldKind, release: LockedRelease, caller: HoldPlacer, session: SessionDep, now: NowDep
) -> ReleaseView:
    """404 `hold_not_found` when there is no such hold."""
    await service.lift_hold(session, caller=caller, release=release, kind=kind)
    add_read(
        session,
        caller,
        action="hold.lift",
        release_id=release.id,
        container=release.container,
        now=now,
    )
    return await service.load_view(session, caller, release, now=now)
