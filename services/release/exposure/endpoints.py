"""A party's exposure report over HTTP (port security, the party's administrators)."""

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Path, Request
from pydantic import AwareDatetime

from services.release.access.service import record_read
from services.release.auth import Caller
from services.release.deps import CurrentCaller, IdentityApiDep, NowDep
from services.release.exposure import rights, service
from services.release.exposure.schemas import ExposureReport, RightView
from shared.deps import ReadSessionDep
from shared.paging import check_period
from shared.problems import PROBLEM, InvalidInput, Problem, problem_responses

router = APIRouter(prefix="/v1/parties/{party_id}", tags=["exposure"])

# Longer than any party id: refused as input (422) rather than looked up.
PartyIdPath = Annotated[str, Path(max_length=64)]
#: The period when none is given, and the longest one asked at once.
DEFAULT_PERIOD = timedelta(days=30)
MAX_PERIOD = timedelta(days=366)


def rights_in(request: Request) -> service.RightsOf:
    """What a caller may do in this app, read off its routes' guards."""
    routes = rights.caller_routes(request.app)

    async def rights_of(caller: Caller) -> list[RightView]:
        return rights.views(await rights.rights_of(routes, caller))

    return rights_of


@router.get(
    "/exposure",
    summary="Who of the party can see or do what, and what each looked up (port security, "
    "its admins)",
    responses={
        **problem_responses(401, 422, 503),
        403: {
            **PROBLEM,
            "description": "`exposure_not_allowed`: the party's own people other than admins",
        },
        404: {**PROBLEM, "description": "`party_not_found`: unknown, or another party's"},
    },
)
async def party_exposure(
    party_id: PartyIdPath,
    request: Request,
    caller: CurrentCaller,
    session: ReadSessionDep,
    api: IdentityApiDep,
    now: NowDep,
    since: AwareDatetime | None = None,
    until: AwareDatetime | None = None,
) -> ExposureReport:
    """Each role of the party (its person roles and `api_client`) with every route of this
    service it passes and how far it reaches, its custodial signing rights and whether it
    sees the party's people; each person with his device keys, signing right and reads of
    [since, until) (default: the 30 days up to now; at most 366 days): reads shown, reads
    refused, distinct containers; the API client's reads; the party's keys and API-client
    keys. Port security and the party's administrators only: another party's caller gets
    404 `party_not_found`, as for an unknown party. Recorded in the access log
    (`exposure.read`), refusals too."""
    until = until or now
    since = since or until - DEFAULT_PERIOD
    check_period(since, until)
    if until - since > MAX_PERIOD:
        raise InvalidInput("period_too_long", "ask for at most 366 days at once")
    outcome, people = "refused", 0
    try:
        report = await service.exposure_report(
            session,
            rights_of=rights_in(request),
            api=api,
            caller=caller,
            party_id=party_id,
            since=since,
            until=until,
        )
        outcome, people = "shown", len(report.people)
        return report
    except Problem as exc:
        outcome = {404: "not_found", 403: "refused"}.get(exc.status, "failed")
        raise
    finally:
        await record_read(
            request.app.state.sessions,
            caller,
            action="exposure.read",
            outcome=outcome,
            now=now,
            results=people,
        )
