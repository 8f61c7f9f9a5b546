"""Gate passes: a short-lived, single-use `ketenpas-gatepass+jwt` for an eligible driver.

The driver proves his second factor either by a recent sign-in (his person token's
`auth_time` within the configured window) or by a fresh TOTP code, which is also how a
terminal kiosk serves drivers with a hardware token. Codes follow the sign-in rules: each
time step once per person, failures rate-limited per driver and per source (the kiosk that
asks for him, or his phone's address). Verification lives in shared.gatepass,
for the release service.
"""

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime

import structlog
from joserfc.jwk import OKPKey
from sqlmodel.ext.asyncio.session import AsyncSession

from services.identity.parties.models import Party, PartyStatus
from services.identity.people import service as people
from services.identity.people.models import Person, PersonRole, PersonStatus
from services.identity.sessions import repository
from services.identity.sessions.ratelimit import SignInLimiter, Source
from services.identity.sessions.service import Refused, check_second_factor
from services.identity.settings import IdentitySettings
from shared import jose
from shared.audit.events import append
from shared.auth import Principal
from shared.gatepass import GATE_PASS_TYP, gate_pass_claims, verify_gate_pass

__all__ = ["IssuedGatePass", "issue_gate_pass", "verify_gate_pass"]

logger = structlog.get_logger(__name__)

REFUSED_EVENT = "gate_pass.refused"


@dataclass(frozen=True)
class IssuedGatePass:
    """A signed gate pass and its single-use id."""

    token: str
    expires_in: int
    jti: str
    person_id: uuid.UUID


def _refused(code: str, detail: str, person: Person, *, status: int) -> Refused:
    return Refused(code, detail, event_type=REFUSED_EVENT, person_id=person.id, status=status)


def _check_eligible(person: Person, party: Party | None, now: float) -> tuple[Party, date]:
    """The driver's active party and his screening date, if he may have a gate pass now."""
    if person.role != PersonRole.driver:
        raise _refused("not_a_driver", "gate passes are for drivers", person, status=403)
    if person.status != PersonStatus.active:
        raise _refused("person_not_active", "the driver is suspended", person, status=401)
    if party is None or party.status != PartyStatus.active:
        raise _refused(
            "party_not_active", "the driver's party is suspended or revoked", person, status=401
        )
    today = datetime.fromtimestamp(now, UTC).date()
    if person.screened_until is None or person.screened_until < today:
        raise _refused(
            "screening_expired", "the driver's screening has expired", person, status=403
        )
    return party, person.screened_until


def _recent_sign_in(
    caller: Principal, person: Person, settings: IdentitySettings, now: float
) -> None:
    if "otp" not in caller.amr or caller.auth_time is None:
        raise _refused(
            "second_factor_required",
            "the sign-in did not use the second factor; send a TOTP code",
            person,
            status=401,
        )
    if now - caller.auth_time > settings.second_factor_window_seconds:
        raise _refused(
            "second_factor_too_old",
            "the second-factor sign-in is too old; sign in again or send a TOTP code",
            person,
            status=401,
        )


def _source(caller: Principal, person: Person, address: str) -> Source:
    # A kiosk's requests come through the release service (one address for every kiosk):
    # its guesses are counted against the terminal that asks (its API client and its
    # operators together, so that more operator accounts buy no more guesses).
    if caller.person_id == person.id:
        return Source.address(address)
    return Source.kiosk(caller.party_id)


async def issue_gate_pass(
    session: AsyncSession,
    *,
    settings: IdentitySettings,
    limiter: SignInLimiter,
    signing_key: OKPKey,
    person: Person,
    caller: Principal,
    otp: str | None,
    address: str,
    now: float,
) -> IssuedGatePass:
    """A gate pass for an eligible driver who proved his second factor just now."""
    party, screened_until = _check_eligible(
        person, await repository.get_party(session, person.party_id), now
    )
    if otp is not None:
        await check_second_factor(
            session,
            settings=settings,
            limiter=limiter,
            person=person,
            otp=otp,
            source=_source(caller, person, address),
            now=now,
            event_type=REFUSED_EVENT,
        )
        amr, proof = ["otp"], "otp"
    elif caller.person_id == person.id:
        _recent_sign_in(caller, person, settings, now)
        amr, proof = list(caller.amr), "sign_in"
    else:
        raise _refused(
            "otp_required", "a gate pass for someone else needs his TOTP code", person, status=401
        )
    lifetime = settings.gate_pass_lifetime_seconds
    claims = gate_pass_claims(
        issuer=settings.issuer,
        person_id=person.id,
        party_id=party.id,
        amr=amr,
        screened_until=screened_until,
        now=int(now),
        lifetime=lifetime,
        status=await people.status_reference(
            session,
            person=person,
            issuer=settings.issuer,
            now=datetime.fromtimestamp(now, UTC),
        ),
    )
    token = jose.sign(claims, signing_key, typ=GATE_PASS_TYP)
    await append(
        session,
        "gate_pass.issued",
        {
            "actor": caller.actor,
            "person_id": str(person.id),
            "party_id": party.id,
            "jti": claims["jti"],
            "proof": proof,
            "expires_at": claims["exp"],
        },
    )
    logger.info("gate_pass_issued", person_id=str(person.id), jti=claims["jti"], proof=proof)
    return IssuedGatePass(token=token, expires_in=lifetime, jti=claims["jti"], person_id=person.id)
