""" "Who knew?" over HTTP, for port security (docs/access-log.md#who-knew).

Only port security answers it: a client of a port-security party with the `inspections`
scope, or one of its officers. Every question is itself in the access log
(`investigation.who_knew`, naming the container), a refused one too: someone outside port
security asking who watched a container is worth an alert of its own.
"""

from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import AwareDatetime

from services.release.access.service import record_read
from services.release.auth import Caller, allows
from services.release.deps import CurrentCaller, NowDep
from services.release.investigations import service
from services.release.investigations.schemas import WhoKnew
from services.release.releases.service import parse_container
from shared.deps import ReadSessionDep
from shared.paging import check_period, next_cursor, read_cursor
from shared.problems import Forbidden, problem_responses

router = APIRouter(prefix="/v1/investigations", tags=["investigations"])

ACTION = "investigation.who_knew"


def _port_security(caller: Caller) -> bool:
    return caller.has("port_security") and allows(caller, "inspections")


@router.get(
    "/containers/{container}/who-knew",
    summary="Who knew of a container, before its pickup and after (port security)",
    responses=problem_responses(401, 403, 422, 503),
)
async def who_knew(
    container: str,
    request: Request,
    caller: CurrentCaller,
    session: ReadSessionDep,
    now: NowDep,
    since: AwareDatetime | None = None,
    until: AwareDatetime | None = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> WhoKnew:
    """Every read of the container's releases, chains, holds and inspections in the access
    log, and everyone its records told (the chain's parties and driver, the terminal that
    asked the gate, the officers), with when, who (actor, party, person), the endpoint and
    the outcome, each marked `before` or `after` the pickup; oldest first, `since`/`until`
    bound the period, a page at a time (`next`).

    Problems: 403 `role_required` (not port security); 422 `invalid_container`,
    `period_invalid`, `cursor_invalid`.
    """
    number = parse_container(container)
    if not _port_security(caller):
        await record_read(
            request.app.state.sessions,
            caller,
            action=ACTION,
            outcome="refused",
            now=now,
            container=number,
        )
        raise Forbidden("role_required", "only port security asks who knew of a container")
    if since is not None and until is not None:
        check_period(since, until)
    answer, last = await service.who_knew(
        session,
        container=number,
        since=since,
        until=until,
        after=read_cursor(cursor),
        limit=limit,
    )
    await record_read(
        request.app.state.sessions,
        caller,
        action=ACTION,
        outcome="shown" if answer.entries else "not_found",
        now=now,
        container=number,
        results=len(answer.entries),
    )
    if last is not None:
        answer.next = next_cursor(last.at, last.key)
    return answer
