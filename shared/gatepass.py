"""Gate passes (`ketenpas-gatepass+jwt`, docs/design.md, Wire formats): what the identity
service signs for a driver who proved his second factor, and how a gate checks one offline.

The release service verifies with the identity service's published keys (JWKS) and must
itself accept each `jti` only once, until `expires_at` plus the clock-skew leeway: a
gate pass is a bearer token for two minutes, and only the gate can see it being used.
"""

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from joserfc.jwk import Key

from shared import jose
from shared.auth import StatusReference

GATE_PASS_TYP = "ketenpas-gatepass+jwt"  # noqa: S105  (a media type, not a secret)
MAX_GATE_PASS_LIFETIME_SECONDS = 120
CLOCK_SKEW_SECONDS = 30


class GatePassRefused(Exception):
    """A gate pass was refused; `code` is stable (the `token_*` codes of shared.jose and more)."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail


@dataclass(frozen=True)
class GatePass:
    """A verified gate pass: whose it is, how he proved it, and until when it holds."""

    person_id: uuid.UUID
    party_id: str
    amr: tuple[str, ...]
    issued_at: int
    expires_at: int
    jti: str
    screened_until: date
    # The driver's own status entry: a suspension reaches the gate through the published list.
    status: StatusReference | None = None


def gate_pass_claims(
    *,
    issuer: str,
    person_id: uuid.UUID,
    party_id: str,
    amr: list[str],
    screened_until: date,
    now: int,
    lifetime: int,
    status: StatusReference | None = None,
) -> dict[str, Any]:
    """The claims of a new gate pass with a fresh single-use jti."""
    if not 0 < lifetime <= MAX_GATE_PASS_LIFETIME_SECONDS:
        raise ValueError(f"a gate pass lives at most {MAX_GATE_PASS_LIFETIME_SECONDS} s")
    claims: dict[str, Any] = {
        "iss": issuer,
        "sub": str(person_id),
        "party": party_id,
        "amr": amr,
        "iat": now,
        "exp": now + lifetime,
        "jti": str(uuid.uuid4()),
        "screened_until": screened_until.isoformat(),
    }
    if status is not None:
        claims["status"] = status.claim()
    return claims


def verify_gate_pass(
    token: str, *, resolve_key: Callable[[str], Key | None], issuer: str, now: float
) -> GatePass:
    """Check a gate pass's signature, type, issuer, times, second factor and screening.

    Single use of `jti` is NOT checked here: the caller must record it (see the module
    docstring).
    """
    try:
        claims = jose.verify(token, typ=GATE_PASS_TYP, resolve_key=resolve_key).claims
        jose.check_times(
            claims, now, leeway=CLOCK_SKEW_SECONDS, max_lifetime=MAX_GATE_PASS_LIFETIME_SECONDS
        )
    except jose.TokenError as exc:
        raise GatePassRefused(exc.code, exc.detail) from exc
    if claims.get("iss") != issuer:
        raise GatePassRefused("token_wrong_issuer", "the gate pass was issued by someone else")
    gate_pass = _parse(claims)
    if "otp" not in gate_pass.amr:
        raise GatePassRefused(
            "gate_pass_without_second_factor", "the gate pass does not attest a second factor"
        )
    if gate_pass.screened_until < datetime.fromtimestamp(now, UTC).date():
        raise GatePassRefused("screening_expired", "the driver's screening has expired")
    return gate_pass


def _parse(claims: dict[str, Any]) -> GatePass:
    amr, party, jti = claims.get("amr"), claims.get("party"), claims.get("jti")
    try:
        if not (isinstance(amr, list) and amr and all(isinstance(a, str) for a in amr)):
            raise ValueError("amr must be a non-empty list of strings")
        if not (isinstance(party, str) and party and isinstance(jti, str) and jti):
            raise ValueError("party and jti must be non-empty strings")
        return GatePass(
            person_id=uuid.UUID(str(claims["sub"])),
            party_id=party,
            amr=tuple(amr),
            # check_times has made sure iat and exp are finite numbers
            issued_at=int(claims["iat"]),
            expires_at=int(claims["exp"]),
            jti=jti,
            screened_until=date.fromisoformat(str(claims["screened_until"])),
            status=StatusReference.from_claims(claims),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise GatePassRefused(
            "token_claims_invalid", "the gate pass lacks required claims"
        ) from exc
