"""People signing in with password and TOTP, and enrolling their TOTP second factor.

What a refusal reveals is chosen with care: a wrong username, password or code all get the
same `invalid_credentials`, and the unknown username costs the same argon2 work as a wrong
password. Only someone who knows the password learns that the second factor is missing,
and only someone who knows password and code learns that the person or his party is
suspended. Refusals are raised as `Refused`, which the endpoint records in the audit log
(in the request's transaction, which has changed nothing else by then) before answering.
"""

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime

import structlog
from joserfc.jwk import OKPKey
from sqlmodel.ext.asyncio.session import AsyncSession

from services.identity.keys import repository as keys
from services.identity.keys.models import KeyStatus, PartyKey
from services.identity.parties.models import Party, PartyStatus
from services.identity.people import service as people
from services.identity.people.models import Person, PersonRole, PersonStatus
from services.identity.people.passwords import verify_password
from services.identity.sealing import SealError, seal, unseal
from services.identity.sessions import repository, totp
from services.identity.sessions.ratelimit import SignInLimiter, Source
from services.identity.settings import IdentitySettings
from shared.audit.events import append
from shared.auth import Principal, issue_access_token
from shared.problems import Conflict, Forbidden, Problem, Unauthorised

logger = structlog.get_logger(__name__)

#: How a person token says which factors the sign-in used (RFC 8176 values).
SIGN_IN_AMR = ("pwd", "otp")


class Refused(Problem):
    """A sign-in or second-factor check said no; the endpoint audits it, then answers."""

    def __init__(
        self,
        code: str,
        detail: str,
        *,
        event_type: str,
        person_id: uuid.UUID | None,
        status: int = 401,
    ) -> None:
        super().__init__(code, detail, status=status)
        self.event_type = event_type
        self.person_id = person_id


@dataclass(frozen=True)
class SignedIn:
    """A person token and what it says."""

    access_token: str
    expires_in: int
    person_id: uuid.UUID
    party_id: str


@dataclass(frozen=True)
class Enrolment:
    """A pending TOTP secret, as the person's authenticator needs it (contains the secret)."""

    person_id: uuid.UUID
    provisioning_uri: str
    qr_svg: str
    replaced_confirmed: bool


@dataclass(frozen=True)
class CurrentSession:
    """Who a person token's holder is, as the database says now (not as the token said)."""

    person: Person
    party: Party
    device_keys: list[PartyKey]  # a driver's; nobody else has any
    screening_valid: bool
    needs_device_key: bool


async def current_session(
    session: AsyncSession, *, principal: Principal, today: date
) -> CurrentSession:
    """The signed-in person of a person token, his party and (a driver's) device keys."""
    if principal.person_id is None:
        raise Forbidden(
            "person_required", "an API client's token names no person: sign a person in"
        )
    person = await repository.get_person(session, principal.person_id)
    party = await repository.get_party(session, principal.party_id)
    if person is None or party is None or person.party_id != party.id:
        # The caller's standing was checked before: only a token naming a person of
        # another party (which the service never signs) comes here.
        raise Unauthorised("token_claims_invalid", "the token names no person of its party")
    is_driver = person.role == PersonRole.driver
    device_keys = list(await keys.of_person(session, person.id)) if is_driver else []
    return CurrentSession(
        person=person,
        party=party,
        device_keys=device_keys,
        screening_valid=person.screened_until is not None and person.screened_until >= today,
        needs_device_key=is_driver
        and not any(key.status == KeyStatus.active for key in device_keys),
    )


def totp_binding(person_id: uuid.UUID) -> str:
    """The row name a person's sealed TOTP secret is bound to."""
    return f"people:{person_id}:totp"


def _moment(now: float) -> datetime:
    return datetime.fromtimestamp(now, UTC)


def _secret(settings: IdentitySettings, person: Person) -> str | None:
    if person.totp_secret_sealed is None:
        return None
    try:
        sealed = unseal(
            settings.kek_bytes(), person.totp_secret_sealed, bound_to=totp_binding(person.id)
        )
    except SealError:
        # Tampering or a changed key-encryption key; the person needs a new enrolment.
        logger.error("totp_secret_does_not_open", person_id=str(person.id))
        return None
    return sealed.decode("ascii")


async def use_totp_code(
    session: AsyncSession, *, settings: IdentitySettings, person: Person, otp: str, now: float
) -> bool:
    """Whether `otp` is a current code of the person's secret not used before; uses it up."""
    secret = _secret(settings, person)
    if secret is None:
        return False
    for step in totp.matching_steps(secret, otp, now=now):
        if await repository.claim_totp_step(
            session, person_id=person.id, step=step, now=_moment(now)
        ):
            return True
    return False


async def check_second_factor(
    session: AsyncSession,
    *,
    settings: IdentitySettings,
    limiter: SignInLimiter,
    person: Person,
    otp: str,
    source: Source,
    now: float,
    event_type: str,
) -> None:
    """Accept a fresh TOTP code of a person with a confirmed factor, within the rate limit."""
    async with limiter.attempt(username=person.username, source=source, now=now) as attempt:
        if person.totp_confirmed_at is None:
            raise Refused(
                "second_factor_not_enrolled",
                "the person has no confirmed second factor",
                event_type=event_type,
                person_id=person.id,
            )
        if not await use_totp_code(session, settings=settings, person=person, otp=otp, now=now):
            await attempt.failed()
            raise Refused(
                "otp_invalid",
                "the code is wrong, expired or already used",
                event_type=event_type,
                person_id=person.id,
            )
        await attempt.succeeded()


def _invalid_credentials(person_id: uuid.UUID | None) -> Refused:
    return Refused(
        "invalid_credentials",
        "wrong username, password or code",
        event_type="person.sign_in_refused",
        person_id=person_id,
    )


async def sign_in(
    session: AsyncSession,
    *,
    settings: IdentitySettings,
    limiter: SignInLimiter,
    signing_key: OKPKey,
    username: str,
    password: str,
    otp: str,
    address: str,
    now: float,
) -> SignedIn:
    """Check password and TOTP code and issue a person token (raises Refused or 429)."""
    source = Source.address(address)
    async with limiter.attempt(username=username, source=source, now=now) as attempt:
        person = await repository.person_by_username(session, username)
        password_ok = await verify_password(person.password_hash if person else None, password)
        if person is None or not password_ok:
            await attempt.failed()
            raise _invalid_credentials(person.id if person else None)
        if person.totp_secret_sealed is None:
            raise Refused(
                "second_factor_not_enrolled",
                "sign-in needs a second factor; ask an administrator to enrol one",
                event_type="person.sign_in_refused",
                person_id=person.id,
            )
        if not await use_totp_code(session, settings=settings, person=person, otp=otp, now=now):
            await attempt.failed()
            raise _invalid_credentials(person.id)
        # Password and code were right: whatever is refused below is no guess.
        await attempt.succeeded()
    if person.totp_confirmed_at is None:
        # A pending factor becomes active with its first correct code, here given together
        # with the password: that is how a newly enrolled person first signs in.
        person.totp_confirmed_at = _moment(now)
        session.add(person)
        await append(
            session,
            "person.totp_confirmed",
            {
                "actor": f"person:{person.id}",
                "person_id": str(person.id),
                "party_id": person.party_id,
                "by": "first_sign_in",
            },
        )
    if person.status != PersonStatus.active:
        raise Refused(
            "person_not_active",
            "the person is suspended",
            event_type="person.sign_in_refused",
            person_id=person.id,
        )
    party = await repository.get_party(session, person.party_id)
    if party is None or party.status != PartyStatus.active:
        raise Refused(
            "party_not_active",
            "the person's party is suspended or revoked",
            event_type="person.sign_in_refused",
            person_id=person.id,
        )
    if people.screening_lapsed(person, _moment(now).date()):
        # His role works only while screened (docs/screening.md); 401 like the sign-in's
        # other refusals. The gate pass asks again (403 there, as for any refused pass).
        raise Refused(
            "screening_expired",
            "the person's screening has expired or was never recorded",
            event_type="person.sign_in_refused",
            person_id=person.id,
        )
    return await _issue_person_token(
        session,
        settings=settings,
        signing_key=signing_key,
        person=person,
        party=party,
        address=address,
        now=now,
    )


async def _issue_person_token(
    session: AsyncSession,
    *,
    settings: IdentitySettings,
    signing_key: OKPKey,
    person: Person,
    party: Party,
    address: str,
    now: float,
) -> SignedIn:
    issued_at = int(now)
    lifetime = settings.person_token_lifetime_seconds
    status = await people.status_reference(
        session, person=person, issuer=settings.issuer, now=datetime.fromtimestamp(now, UTC)
    )
    token = issue_access_token(
        signing_key,
        issuer=settings.issuer,
        party_id=party.id,
        party_roles=list(party.roles),
        scopes=[],
        now=issued_at,
        lifetime=lifetime,
        person_id=person.id,
        person_role=person.role,
        auth_time=issued_at,
        amr=list(SIGN_IN_AMR),
        status=status,
    )
    await append(
        session,
        "person.signed_in",
        {
            "actor": f"person:{person.id}",
            "person_id": str(person.id),
            "party_id": party.id,
            "amr": list(SIGN_IN_AMR),
            "address": address,
            "expires_at": issued_at + lifetime,
        },
    )
    logger.info("person_signed_in", person_id=str(person.id), party_id=party.id)
    return SignedIn(access_token=token, expires_in=lifetime, person_id=person.id, party_id=party.id)


async def record_refusal(
    session: AsyncSession, *, refusal: Refused, address: str, actor: str | None = None
) -> None:
    """Append a refused sign-in or second-factor attempt to the audit log (and the log)."""
    person = str(refusal.person_id) if refusal.person_id else None
    await append(
        session,
        refusal.event_type,
        {
            # An anonymous attempt is named by where it came from; the username typed is
            # not recorded (people type passwords into that field).
            "actor": actor or f"address:{address}",
            "person_id": person,
            "reason": refusal.code,
            "address": address,
        },
    )
    logger.warning(
        "second_factor_or_sign_in_refused",
        event_type=refusal.event_type,
        reason=refusal.code,
        person_id=person,
        address=address,
    )


async def enrol_totp(
    session: AsyncSession,
    *,
    settings: IdentitySettings,
    person: Person,
    actor: str,
    may_replace_confirmed: bool,
    now: datetime,
) -> Enrolment:
    """Give the person a new, pending TOTP secret (replacing a pending one)."""
    replacing = person.totp_confirmed_at is not None
    if replacing and not may_replace_confirmed:
        raise Conflict(
            "totp_already_confirmed",
            "the person already has a confirmed second factor; an administrator can reset it",
        )
    secret = totp.new_secret()
    person.totp_secret_sealed = seal(
        settings.kek_bytes(), secret.encode("ascii"), bound_to=totp_binding(person.id)
    )
    person.totp_confirmed_at = None
    person.updated_at = now
    session.add(person)
    await append(
        session,
        "person.totp_reset" if replacing else "person.totp_enrolled",
        {"actor": actor, "person_id": str(person.id), "party_id": person.party_id},
    )
    uri = totp.provisioning_uri(secret, person.username)
    return Enrolment(
        person_id=person.id,
        provisioning_uri=uri,
        qr_svg=totp.qr_svg(uri),
        replaced_confirmed=replacing,
    )


async def confirm_totp(
    session: AsyncSession,
    *,
    settings: IdentitySettings,
    limiter: SignInLimiter,
    person: Person,
    otp: str,
    actor: str,
    address: str,
    now: float,
) -> datetime:
    """Activate the person's pending TOTP secret with a first correct code."""
    if person.totp_confirmed_at is not None:
        raise Conflict("totp_already_confirmed", "the second factor is already confirmed")
    if person.totp_secret_sealed is None:
        raise Conflict("totp_not_enrolled", "there is no pending TOTP secret to confirm")
    source = Source.address(address)
    async with limiter.attempt(username=person.username, source=source, now=now) as attempt:
        if not await use_totp_code(session, settings=settings, person=person, otp=otp, now=now):
            await attempt.failed()
            raise Refused(
                "otp_invalid",
                "the code is wrong, expired or already used",
                event_type="person.totp_confirm_refused",
                person_id=person.id,
                status=422,
            )
        await attempt.succeeded()
    confirmed_at = _moment(now)
    person.totp_confirmed_at = confirmed_at
    person.updated_at = confirmed_at
    session.add(person)
    await append(
        session,
        "person.totp_confirmed",
        {"actor": actor, "person_id": str(person.id), "party_id": person.party_id},
    )
    return confirmed_at
