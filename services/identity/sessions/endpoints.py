"""People sign in (password + TOTP) and enrol their TOTP second factor."""

import uuid
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response
from fastapi.responses import JSONResponse

from services.identity.auth import is_admin
from services.identity.deps import (
    ClientAddressDep,
    CurrentPrincipal,
    KeyRingCacheDep,
    LimiterDep,
    NowDep,
    SettingsDep,
    UtcNowDep,
    require_person,
)
from services.identity.people.models import Person
from services.identity.people.service import person_not_found
from services.identity.sessions import repository, service
from services.identity.sessions.ratelimit import TooManyAttempts, rate_limited_response
from services.identity.sessions.schemas import (
    CurrentSessionView,
    DeviceKeyState,
    SignInRequest,
    TokenResponse,
    TotpConfirmed,
    TotpConfirmRequest,
    TotpEnrolment,
)
from shared.auth import Principal
from shared.deps import SessionDep
from shared.problems import PROBLEM, Forbidden, problem_response, problem_responses

router = APIRouter(tags=["sessions"])

_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def _no_store(response: Response) -> None:
    # Tokens and TOTP secrets must not be kept by any cache (RFC 6749 §5.1).
    response.headers.update(_NO_STORE)


@dataclass(frozen=True)
class EnrolmentAccess:
    """A person whose second factor the caller may manage, and whether as administrator."""

    person: Person
    principal: Principal
    as_admin: bool


async def enrolment_access(
    person_id: uuid.UUID, principal: CurrentPrincipal, session: SessionDep
) -> EnrolmentAccess:
    """An administrator, or the person himself; decided before looking the person up."""
    as_admin = is_admin(principal)
    if not as_admin and principal.person_id != person_id:
        raise Forbidden(
            "totp_enrolment_not_allowed",
            "only an administrator or the person himself manages his second factor",
        )
    person = await repository.get_person(session, person_id)
    if person is None:
        raise person_not_found()
    return EnrolmentAccess(person=person, principal=principal, as_admin=as_admin)


EnrolmentAccessDep = Annotated[EnrolmentAccess, Depends(enrolment_access)]


@router.post(
    "/v1/sessions",
    response_model=TokenResponse,
    summary="Sign a person in with password and TOTP code",
    responses=problem_responses(401, 422, 429),
)
async def sign_in(
    body: SignInRequest,
    response: Response,
    session: SessionDep,
    settings: SettingsDep,
    keyring: KeyRingCacheDep,
    limiter: LimiterDep,
    address: ClientAddressDep,
    now: NowDep,
) -> Any:
    """A person token for a person who knows his password and a fresh TOTP code."""
    _, key = await keyring.signing()
    try:
        signed_in = await service.sign_in(
            session,
            settings=settings,
            limiter=limiter,
            signing_key=key,
            username=body.username,
            password=body.password,
            otp=body.otp,
            address=address,
            now=now,
        )
    except TooManyAttempts as exc:
        refused: JSONResponse = rate_limited_response(exc)
    except service.Refused as exc:
        # Answered rather than raised, so the audit entry commits with the request.
        await service.record_refusal(session, refusal=exc, address=address)
        refused = problem_response(exc.status, exc.code, exc.detail)
    else:
        _no_store(response)
        return TokenResponse(access_token=signed_in.access_token, expires_in=signed_in.expires_in)
    _no_store(refused)
    return refused


@router.get(
    "/v1/sessions/current",
    summary="Who the person token's holder is: person, party, second factor, device keys",
    responses={
        403: {**PROBLEM, "description": "`person_required`: an API client's token"},
    },
)
async def current_session(
    person: Annotated[Principal, Depends(require_person())],
    response: Response,
    session: SessionDep,
    now: UtcNowDep,
) -> CurrentSessionView:
    """The signed-in person (read now, not from the token), his party, whether his second
    factor is active and his screening valid, and a driver's device keys; what the web front
    end shows and decides its next step by. Any signed-in person; an API client's token gets
    403 `person_required`."""
    current = await service.current_session(session, principal=person, today=now.date())
    _no_store(response)
    who, party = current.person, current.party
    return CurrentSessionView(
        person_id=who.id,
        username=who.username,
        name=who.name,
        role=who.role,
        screened_until=who.screened_until,
        screening_valid=current.screening_valid,
        totp_confirmed=who.totp_confirmed_at is not None,
        party_id=party.id,
        party_name=party.name,
        party_roles=list(party.roles),
        device_keys=[
            DeviceKeyState(kid=key.kid, status=key.status, created_at=key.created_at)
            for key in current.device_keys
        ],
        needs_device_key=current.needs_device_key,
        auth_time=person.auth_time or 0,
        expires_at=int(person.claims.get("exp", 0)),
        amr=list(person.amr),
    )


@router.post(
    "/v1/people/{person_id}/totp",
    response_model=TotpEnrolment,
    summary="Enrol a new TOTP second factor (pending until confirmed)",
    responses=problem_responses(401, 403, 404, 409),
)
async def enrol_totp(
    access: EnrolmentAccessDep,
    response: Response,
    session: SessionDep,
    settings: SettingsDep,
    now: UtcNowDep,
) -> TotpEnrolment:
    """A new secret as provisioning URI and QR code; an administrator may reset a confirmed one."""
    enrolment = await service.enrol_totp(
        session,
        settings=settings,
        person=access.person,
        actor=access.principal.actor,
        may_replace_confirmed=access.as_admin,
        now=now,
    )
    _no_store(response)
    return TotpEnrolment(provisioning_uri=enrolment.provisioning_uri, qr_svg=enrolment.qr_svg)


@router.post(
    "/v1/people/{person_id}/totp/confirm",
    response_model=TotpConfirmed,
    summary="Confirm the pending TOTP second factor with a first code",
    responses=problem_responses(401, 403, 404, 409, 429),
)
async def confirm_totp(
    body: TotpConfirmRequest,
    access: EnrolmentAccessDep,
    session: SessionDep,
    settings: SettingsDep,
    limiter: LimiterDep,
    address: ClientAddressDep,
    now: NowDep,
) -> Any:
    """The second factor becomes active: sign-in and gate passes accept its codes."""
    try:
        confirmed_at = await service.confirm_totp(
            session,
            settings=settings,
            limiter=limiter,
            person=access.person,
            otp=body.otp,
            actor=access.principal.actor,
            address=address,
            now=now,
        )
    except TooManyAttempts as exc:
        return rate_limited_response(exc)
    except service.Refused as exc:
        await service.record_refusal(
            session, refusal=exc, address=address, actor=access.principal.actor
        )
        return problem_response(exc.status, exc.code, exc.detail)
    return TotpConfirmed(person_id=access.person.id, confirmed_at=confirmed_at)
