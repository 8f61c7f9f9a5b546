"""Access tokens (RFC 9068 `at+jwt`): what both services accept as a caller's identity."""

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from joserfc.jwk import Key, OKPKey

from shared import jose
from shared.problems import Unauthorised

ACCESS_TOKEN_TYP = "at+jwt"  # noqa: S105  (a media type, not a secret)
ACCESS_TOKEN_AUDIENCE = "urn:ketenpas:api"  # noqa: S105  (an audience name)


@dataclass(frozen=True)
class StatusReference:
    """Where a token's status is published: one entry of an IETF Token Status List.

    A person's access token and gate pass carry the person's entry, so that a verifier that
    cannot read the identity database (the release service) learns of a suspension from the
    published list within its refresh interval, not when the token expires.
    """

    uri: str
    idx: int

    def claim(self) -> dict[str, Any]:
        """The `status` claim naming this entry."""
        return {"status_list": {"idx": self.idx, "uri": self.uri}}

    @classmethod
    def from_claims(cls, claims: dict[str, Any]) -> "StatusReference | None":
        """The token's entry, None without a `status` claim; ValueError when malformed."""
        if "status" not in claims:
            return None
        try:
            reference = claims["status"]["status_list"]
            idx, uri = reference["idx"], reference["uri"]
        except (KeyError, TypeError):
            raise ValueError("a status claim names status_list.idx and .uri") from None
        if not isinstance(uri, str) or type(idx) is not int or idx < 0:
            raise ValueError("status_list.idx is a non-negative integer, .uri a string")
        return cls(uri=uri, idx=idx)


@dataclass(frozen=True)
class Principal:
    """Who calls: a party's client, or a person of a party (with his role)."""

    party_id: str
    party_roles: frozenset[str]
    scopes: frozenset[str] = frozenset()
    person_id: uuid.UUID | None = None
    person_role: str | None = None
    auth_time: int | None = None
    amr: tuple[str, ...] = ()
    token_id: str = ""
    status: StatusReference | None = None
    claims: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def actor(self) -> str:
        """Who to name in the audit log."""
        return f"person:{self.person_id}" if self.person_id else f"client:{self.party_id}"


def issue_access_token(
    key: OKPKey,
    *,
    issuer: str,
    party_id: str,
    party_roles: list[str],
    scopes: list[str],
    now: int,
    lifetime: int,
    person_id: uuid.UUID | None = None,
    person_role: str | None = None,
    auth_time: int | None = None,
    amr: list[str] | None = None,
    status: StatusReference | None = None,
) -> str:
    """Sign an RFC 9068 access token for a party's client or for a person."""
    claims: dict[str, Any] = {
        "iss": issuer,
        "sub": str(person_id) if person_id else party_id,
        "aud": ACCESS_TOKEN_AUDIENCE,
        "client_id": party_id,
        "iat": now,
        "exp": now + lifetime,
        "jti": str(uuid.uuid4()),
        "party": party_id,
        "roles": party_roles,
        "scope": " ".join(scopes),
    }
    if person_id is not None:
        claims.update(person_role=person_role, auth_time=auth_time, amr=amr or [])
    if status is not None:
        claims["status"] = status.claim()
    return jose.sign(claims, key, typ=ACCESS_TOKEN_TYP)


def verify_access_token(
    token: str, *, issuer: str, resolve_key: Callable[[str], Key | None], now: float
) -> Principal:
    """Check an access token's signature, type, issuer, audience and times."""
    try:
        verified = jose.verify(token, typ=ACCESS_TOKEN_TYP, resolve_key=resolve_key)
        claims = verified.claims
        jose.check_times(claims, now, max_lifetime=3600)
    except jose.TokenError as exc:
        raise Unauthorised(exc.code, exc.detail) from exc
    if claims.get("iss") != issuer:
        raise Unauthorised("token_wrong_issuer", "the token was issued by someone else")
    if claims.get("aud") != ACCESS_TOKEN_AUDIENCE:
        raise Unauthorised("token_wrong_audience", "the token is not for this API")
    try:
        person = claims.get("person_role") and uuid.UUID(str(claims["sub"]))
        return Principal(
            party_id=str(claims["party"]),
            party_roles=frozenset(str(r) for r in claims["roles"]),
            scopes=frozenset(str(claims.get("scope", "")).split()),
            person_id=person or None,
            person_role=str(claims["person_role"]) if person else None,
            auth_time=int(claims["auth_time"]) if person else None,
            amr=tuple(str(a) for a in claims.get("amr", ())),
            token_id=str(claims["jti"]),
            status=StatusReference.from_claims(claims),
            claims=claims,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise Unauthorised("token_claims_invalid", "the token lacks required claims") from exc
