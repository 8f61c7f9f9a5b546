"""The chain over HTTP: hand over, assign, accept, decline, withdraw, and verify."""

import uuid
from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Body, Request

from services.release.chain import repository, service
from services.release.chain.schemas import (
    AckSubmit,
    ChainFailureView,
    ChainView,
    CheckedLink,
    LinkSubmit,
    LinkView,
    Withdrawn,
)
from services.release.chain.verification import facts_of, stored, verify
from services.release.deps import (
    ChainWriter,
    CurrentCaller,
    DirectoryDep,
    IdentityApiDep,
    NowDep,
    Reader,
    SettingsDep,
)
from services.release.releases.endpoints import LockedRelease, read_release
from services.release.releases.service import shows_reference
from shared.deps import ReadSessionDep, SessionDep
from shared.problems import Forbidden, problem_responses

router = APIRouter(prefix="/v1/releases/{release_id}", tags=["chain"])


@router.post(
    "/links",
    status_code=201,
    summary="Hand over or assign a driver",
    responses=problem_responses(401, 403, 404, 409, 422, 503),
)
async def submit_link(
    body: LinkSubmit,
    release: LockedRelease,
    caller: ChainWriter,
    session: SessionDep,
    directory: DirectoryDep,
    api: IdentityApiDep,
    settings: SettingsDep,
    now: NowDep,
) -> LinkView:
    """The holder passes the release on; 422 with the failing link's reason if it breaks."""
    link = await service.submit_link(
        session,
        caller=caller,
        release=release,
        token=body.link,
        kind=body.kind,
        to=body.to,
        directory=directory,
        api=api,
        settings=settings,
        now=now,
    )
    return LinkView.of(link)


@router.post(
    "/links/{seq}/accept",
    summary="Accept a link (its receiver)",
    responses=problem_responses(401, 403, 404, 409, 422, 503),
)
async def accept_link(
    seq: int,
    release: LockedRelease,
    caller: CurrentCaller,
    session: SessionDep,
    directory: DirectoryDep,
    api: IdentityApiDep,
    settings: SettingsDep,
    now: NowDep,
    body: Annotated[AckSubmit | None, Body()] = None,
) -> LinkView:
    """With `ack` a pre-signed acknowledgement; without, signed for the person (a driver too)."""
    link = await service.accept(
        session,
        caller=caller,
        release=release,
        seq=seq,
        ack=body.ack if body else None,
        directory=directory,
        api=api,
        settings=settings,
        now=now,
    )
    return LinkView.of(link)


@router.post(
    "/links/{seq}/decline",
    summary="Decline a link (its receiver)",
    responses=problem_responses(401, 403, 404, 409, 422, 503),
)
async def decline_link(
    seq: int, release: LockedRelease, caller: CurrentCaller, session: SessionDep, now: NowDep
) -> LinkView:
    """The sender may then make another link in its place."""
    link = await service.decline(session, caller=caller, release=release, seq=seq, now=now)
    return LinkView.of(link)


@router.post(
    "/links/{seq}/withdraw",
    summary="Withdraw a link (its signer)",
    responses=problem_responses(401, 403, 404, 409, 422, 503),
)
async def withdraw_link(
    seq: int, release: LockedRelease, caller: ChainWriter, session: SessionDep, now: NowDep
) -> Withdrawn:
    """This link and every later one; refused once the chain has been used at the gate."""
    withdrawn = await service.withdraw(session, caller=caller, release=release, seq=seq, now=now)
    return Withdrawn(withdrawn=withdrawn)


@router.get(
    "/chain",
    summary="The chain, verified now",
    responses=problem_responses(401, 403, 404, 422, 503),
)
async def get_chain(
    release_id: uuid.UUID,
    request: Request,
    caller: Reader,
    session: ReadSessionDep,
    directory: DirectoryDep,
    settings: SettingsDep,
    now: NowDep,
) -> ChainView:
    """Each link with its signer, key, credential status and result; the first failure."""
    if caller.is_driver:
        raise Forbidden("driver_not_allowed", "drivers see their own assignments only")
    release = await read_release(request, caller, session, release_id, "chain.read", now=now)
    links = await repository.live_links(session, release.id)
    report = await verify(
        directory,
        facts_of(release),
        [stored(link) for link in links],
        settings=settings,
        now=now,
        complete=False,
    )
    evidence = shows_reference(caller, release)
    return ChainView(
        release_id=release.id,
        verified=report.ok,
        complete=report.driver is not None,
        failure=ChainFailureView(**asdict(report.failure)) if report.failure else None,
        holder=report.holder,
        driver=report.driver,
        links=[
            CheckedLink(
                seq=checked.seq,
                kind=checked.kind,
                from_party=checked.from_party,
                to=checked.to,
                status=link.status,
                signer=checked.from_party,
                kid=checked.kid,
                credential_id=checked.credential_id,
                credential_status=checked.credential_status,
                result=checked.result,
                detail=checked.detail,
                jws=link.jws if evidence else None,
                ack=link.ack if evidence else None,
            )
            for checked, link in zip(report.links, links, strict=False)
        ],
    )
