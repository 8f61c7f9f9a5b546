"""The token endpoint's rules: client credentials with `private_key_jwt` (RFC 6749 §4.4,
RFC 7523, docs/design.md, Wire formats), answered with an RFC 9068 access token.

A client authenticates with an assertion it signed with one of its party's registered,
active Ed25519 keys that holds a valid credential of the party (unexpired, neither revoked
nor suspended): `iss` = `sub` = party id, exactly one `aud` (our issuer id), `exp`
at most 30 s after `iat`, and a `jti` that is accepted once. One-time use is decided
atomically in the cache first (cheap, shared by every replica) and then by the database,
which stays the source of truth: the cache may be flushed or unreachable, the
`used_assertions` primary key is not.

Checks run cheapest and least revealing first, and the `jti` is spent last, only when
the request is going to succeed; so a refused request changes nothing, and a client
whose request was refused for its scope may send the same assertion again.

An assertion whose header names no `kid` is tried against the claimed party's (`iss`)
active API-client keys that hold a valid credential, as RFC 7523 §3 allows: client libraries
(Authlib's `PrivateKeyJWT`, for one) leave `kid` out by default. That gives an attacker
nothing a `kid` would not: every key tried is one the party itself may authenticate with,
and the signature must still verify with it; device keys and keys without a credential are
never tried. A party with more than MAX_KEYS_WITHOUT_KID such keys must name the key, which
bounds the work one request can cause.

Two refusals are deliberate and say so in their `detail`, because client libraries default
otherwise: `exp` at most 30 s after `iat` (iSHARE; Authlib signs for an hour) and `aud`
exactly our issuer id (draft-ietf-oauth-rfc7523bis; RFC 7523 also allows the token
endpoint URL, which Authlib uses).

Scopes (`SCOPES_BY_ROLE`) are granted per party role; a client asks for some of them
(`scope`) or, asking for none, gets all its roles allow (RFC 6749 §3.3's default).
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, TypeGuard

import structlog
from joserfc.jwk import OKPKey
from redis.exceptions import RedisError
from sqlmodel.ext.asyncio.session import AsyncSession

from services.identity.credentials import service as credentials
from services.identity.keys.models import KeyStatus, PartyKey
from services.identity.oauth import repository
from services.identity.parties.models import Party, PartyRole, PartyStatus
from services.identity.settings import IdentitySettings
from shared import jose
from shared.audit.events import append
from shared.auth import issue_access_token
from shared.cache import Cache
from shared.problems import Problem

logger = structlog.get_logger(__name__)

GRANT_TYPE: Final = "client_credentials"
ASSERTION_TYPE: Final = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
AUTH_METHOD: Final = "private_key_jwt"
#: The typ of client assertions: draft-ietf-oauth-rfc7523bis's explicit type, and the
#: generic "JWT" that most client libraries write.
ASSERTION_TYPS: Final = ("client-authentication+jwt", "JWT")
ASSERTION_MAX_LIFETIME: Final = 30
CLOCK_LEEWAY: Final = 30
MAX_JTI_LENGTH: Final = 200  # the width of used_assertions.jti
MAX_KID_LENGTH: Final = 64  # the width of party_keys.kid
MAX_PARTY_ID_LENGTH: Final = 40  # the width of parties.id
#: How many active API-client keys of a party a kid-less assertion is tried against.
MAX_KEYS_WITHOUT_KID: Final = 8

for _typ in ASSERTION_TYPS:
    jose.ALLOWED_ALGS[_typ] = jose.DEFAULT_ALLOWED_ALGS

#: What a party's API client may do, by party role. A scope names an area of the API and
#: what may be done there; each API checks the scope it needs on the access token.
#:
#: - `releases:read`  read the releases (and chains) the party takes part in
#: - `releases:write` release containers to a first party, withdraw releases
#: - `chain:write`    accept, decline, hand over, subcontract, assign drivers
#: - `gate`           ask gate decisions and confirm gate-out
#: - `holds:write`    put and lift customs or terminal holds
#: - `inspections`    run inspections, record outcomes, see selections after the fact
#: - `alerts:read`    see and acknowledge protective-monitoring alerts
#: - `audit:read`     read audit-log events and export evidence
#: - `admin`          register parties, people, keys; issue and revoke credentials
MANAGE: Final = "subscriptions:manage"
SCOPES_BY_ROLE: Final[Mapping[str, frozenset[str]]] = {
    # `subscriptions:manage`: the party's own webhook subscriptions (docs/webhooks.md).
    PartyRole.shipping_line: frozenset({"releases:read", "releases:write", MANAGE}),
    PartyRole.forwarder: frozenset({"releases:read", "chain:write", MANAGE}),
    PartyRole.carrier: frozenset({"releases:read", "chain:write", MANAGE}),
    PartyRole.terminal: frozenset({"releases:read", "gate", "holds:write", MANAGE}),
    PartyRole.customs: frozenset({"releases:read", "holds:write", "inspections", MANAGE}),
    PartyRole.port_security: frozenset(
        {"releases:read", "inspections", "alerts:read", "audit:read", MANAGE}
    ),
    PartyRole.admin: frozenset({"admin"}),
}
SCOPES: Final[frozenset[str]] = frozenset().union(*SCOPES_BY_ROLE.values())

# RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ), separated by one space.
_SCOPE_TOKEN_CHARS = frozenset(chr(c) for c in range(0x21, 0x7F)) - {'"', "\\"}
_STATUS_BY_ERROR = {"invalid_client": 401}


class OAuthError(Problem):
    """A refused token request: a problem document that also carries RFC 6749's `error`."""

    def __init__(self, error: str, code: str, detail: str, *, status: int | None = None) -> None:
        super().__init__(
            code,
            detail,
            status=status or _STATUS_BY_ERROR.get(error, 400),
            error=error,
            error_description=detail,
        )
        self.error = error


def _client_refused(code: str, detail: str) -> OAuthError:
    # RFC 7523 §3.2: whatever is wrong with the assertion, the error is invalid_client.
    return OAuthError("invalid_client", code, detail)


@dataclass(frozen=True)
class AuthenticatedClient:
    """A party whose client assertion passed every check except one-time use."""

    party: Party
    kid: str
    jti: str
    expires_at: float  # exp + leeway: until then the jti must stay spent


@dataclass(frozen=True)
class IssuedToken:
    """An access token and what the answer tells about it."""

    access_token: str
    token_id: str
    expires_in: int
    scopes: tuple[str, ...]
    party_id: str


def allowed_scopes(roles: Iterable[str]) -> frozenset[str]:
    """Every scope the party roles allow."""
    return frozenset().union(*(SCOPES_BY_ROLE.get(role, frozenset()) for role in roles))


def parse_scope(scope: str | None) -> frozenset[str] | None:
    """The scopes a request names (None: it names none); invalid_scope if malformed or unknown."""
    if scope is None:
        return None
    tokens = scope.split(" ")
    if not all(token and _SCOPE_TOKEN_CHARS.issuperset(token) for token in tokens):
        raise OAuthError(
            "invalid_scope", "scope_malformed", "scope must be scope tokens separated by spaces"
        )
    unknown = sorted(set(tokens) - SCOPES)
    if unknown:
        raise OAuthError("invalid_scope", "scope_unknown", f"unknown scopes: {unknown}")
    return frozenset(tokens)


def grant_scopes(roles: Iterable[str], requested: frozenset[str] | None) -> tuple[str, ...]:
    """What the party gets: what it asked for (or everything) within what its roles allow."""
    allowed = allowed_scopes(roles)
    granted = allowed if requested is None else allowed & requested
    if not granted:
        raise OAuthError(
            "invalid_scope", "scope_not_allowed", "the party's roles allow none of these scopes"
        )
    return tuple(sorted(granted))


def replay_cache_key(party_id: str, jti: str) -> str:
    """The cache key that marks a party's assertion `jti` as spent."""
    return f"assertion:{party_id}:{jti}"


def check_request(
    *, grant_type: str | None, client_assertion_type: str | None, client_assertion: str | None
) -> str:
    """The parameters of a client-credentials request with `private_key_jwt`; the assertion."""
    if grant_type is None:
        raise OAuthError("invalid_request", "grant_type_missing", "grant_type is required")
    if grant_type != GRANT_TYPE:
        raise OAuthError(
            "unsupported_grant_type", "grant_type_unsupported", f"only {GRANT_TYPE} is supported"
        )
    if client_assertion is None and client_assertion_type is None:
        raise _client_refused(
            "client_authentication_missing", f"authenticate with {AUTH_METHOD} (RFC 7523)"
        )
    if client_assertion_type != ASSERTION_TYPE:
        raise _client_refused(
            "client_assertion_type_unsupported", f"client_assertion_type must be {ASSERTION_TYPE}"
        )
    if client_assertion is None:
        raise OAuthError(
            "invalid_request", "client_assertion_missing", "client_assertion is required"
        )
    return client_assertion


async def authenticate_client(
    *,
    session: AsyncSession,
    settings: IdentitySettings,
    assertion: str,
    client_id: str | None,
    now: float,
) -> AuthenticatedClient:
    """Verify a client assertion (RFC 7523) against the party's registered keys."""
    try:
        header, claims = jose.peek(assertion)
    except jose.TokenError as exc:
        raise _client_refused(exc.code, exc.detail) from None
    kid = header.get("kid")
    key_row: PartyKey | None = None
    if _storable(kid, MAX_KID_LENGTH):
        key_row = await repository.get_party_key(session, kid)
    public = jose.import_key(key_row.public_jwk) if key_row is not None else None
    without_kid: dict[str, PartyKey] = {}
    if kid is None or kid == "":
        without_kid = await _keys_to_try(session, peeked_issuer=claims.get("iss"), now=now)
    typ = header.get("typ")
    try:
        verified = jose.verify(
            assertion,
            typ=typ if isinstance(typ, str) and typ in ASSERTION_TYPS else ASSERTION_TYPS[0],
            resolve_key=lambda wanted: public if key_row is not None and wanted == kid else None,
            without_kid=[jose.import_key(row.public_jwk) for row in without_kid.values()],
        )
        claims = verified.claims
        jose.check_times(claims, now, leeway=CLOCK_LEEWAY, max_lifetime=ASSERTION_MAX_LIFETIME)
    except jose.TokenError as exc:
        raise _client_refused(exc.code, _explained(exc)) from None
    key_row = key_row or without_kid.get(jose.thumbprint(verified.key))
    if key_row is None:  # a bug: verify() uses no key but the kid's or those without kid
        raise RuntimeError("the verified key is none of the keys looked up")

    party_id, jti = _check_claims(claims, settings=settings, client_id=client_id)
    party = (
        await repository.get_party(session, party_id)
        if _storable(party_id, MAX_PARTY_ID_LENGTH)
        else None
    )
    if party is None:
        raise _client_refused("party_unknown", "no party is registered under this id")
    if key_row.party_id != party.id:
        raise _client_refused("assertion_key_of_other_party", "the key belongs to another party")
    if key_row.status != KeyStatus.active:
        raise _client_refused("assertion_key_retired", "the key is retired and signs nothing new")
    if party.status != PartyStatus.active:
        raise _client_refused("party_not_active", "the party is suspended or revoked")
    # A key authenticates the client only while a credential of the party vouches for it:
    # otherwise a key registered with a leaked token (or whose credential was suspended or
    # revoked) would be access for ever. A device key's credential names a person: never.
    if not await credentials.certified(
        session,
        kid=key_row.kid,
        subject=party.id,
        now=datetime.fromtimestamp(now, UTC),
        leeway=CLOCK_LEEWAY,
    ):
        raise _client_refused(
            "assertion_key_not_certified", "no valid credential of the party holds this key"
        )
    return AuthenticatedClient(
        party=party, kid=key_row.kid, jti=jti, expires_at=float(claims["exp"]) + CLOCK_LEEWAY
    )


async def _keys_to_try(
    session: AsyncSession, *, peeked_issuer: object, now: float
) -> dict[str, PartyKey]:
    """The keys a kid-less assertion is tried against: the claimed party's active API-client
    keys that hold a valid credential of the party, by kid."""
    if not _storable(peeked_issuer, MAX_PARTY_ID_LENGTH):
        raise _no_key_to_try()
    rows = await repository.active_client_keys(
        session, peeked_issuer, limit=MAX_KEYS_WITHOUT_KID + 1
    )
    if len(rows) > MAX_KEYS_WITHOUT_KID:
        raise _client_refused(
            "assertion_kid_required",
            f"the party has more than {MAX_KEYS_WITHOUT_KID} active keys: name the signing "
            "key in the assertion header (kid, its RFC 7638 thumbprint)",
        )
    at = datetime.fromtimestamp(now, UTC)
    keys = {
        row.kid: row
        for row in rows
        if await credentials.certified(
            session, kid=row.kid, subject=peeked_issuer, now=at, leeway=CLOCK_LEEWAY
        )
    }
    if not keys:
        raise _no_key_to_try()
    return keys


def _no_key_to_try() -> OAuthError:
    return _client_refused(
        "assertion_no_key_to_try",
        "the header names no kid and no active key of the party (iss) holds a valid credential",
    )


def _explained(error: jose.TokenError) -> str:
    # Client libraries sign for an hour by default; say that the limit is meant, and why.
    if error.code == "token_lifetime_too_long":
        return (
            f"exp must be at most {ASSERTION_MAX_LIFETIME} s after iat. This is deliberate "
            "(iSHARE): a client assertion is used once, at once; client libraries sign for "
            "an hour by default, so set their assertion lifetime to 30 s"
        )
    return error.detail


def _storable(value: object, max_length: int) -> TypeGuard[str]:
    # Claims are attacker-chosen JSON: a NUL or a lone surrogate ("\ud800") is a valid
    # JSON string but no database stores or compares it, so such a value never reaches
    # a query (on PostgreSQL it would fail the statement: a 500 instead of a refusal).
    return isinstance(value, str) and 0 < len(value) <= max_length and value.isprintable()


def _check_claims(
    claims: Mapping[str, Any], *, settings: IdentitySettings, client_id: str | None
) -> tuple[str, str]:
    issuer, subject = claims.get("iss"), claims.get("sub")
    if not isinstance(issuer, str) or not issuer:
        raise _client_refused("assertion_issuer_missing", "iss must be the party id")
    if subject != issuer:
        raise _client_refused("assertion_subject_mismatch", "sub must equal iss (the party id)")
    if client_id is not None and client_id != issuer:
        raise _client_refused("client_id_mismatch", "client_id must equal the assertion's iss")
    audience = claims.get("aud")
    if isinstance(audience, list):
        if len(audience) > 1:
            raise _client_refused(
                "assertion_multiple_audiences", "the assertion must name exactly one audience"
            )
        audience = audience[0] if audience else None
    if audience != settings.issuer:
        raise _client_refused(
            "assertion_wrong_audience",
            f"aud must be exactly this issuer ({settings.issuer}), not the token endpoint URL. "
            "This is deliberate (draft-ietf-oauth-rfc7523bis): with the issuer as its only "
            "audience, no other server can get a client to sign an assertion that counts here",
        )
    jti = claims.get("jti")
    if not isinstance(jti, str) or not jti:
        raise _client_refused("assertion_jti_missing", "the assertion needs a jti")
    if len(jti) > MAX_JTI_LENGTH:
        raise _client_refused("assertion_jti_too_long", f"jti is limited to {MAX_JTI_LENGTH}")
    if not _storable(jti, MAX_JTI_LENGTH):
        raise _client_refused("assertion_jti_invalid", "jti must be printable text")
    return issuer, jti


async def spend_assertion(
    *, session: AsyncSession, cache: Cache, client: AuthenticatedClient, now: float
) -> None:
    """Accept the client's assertion once: atomically in the cache, then in the database."""
    ttl = max(client.expires_at - now, 1.0)
    try:
        fresh = await cache.set_if_absent(
            replay_cache_key(client.party.id, client.jti), "1", ttl_seconds=ttl
        )
    except (RedisError, OSError):
        # The database below decides alone; the cache only makes replays cheaper to refuse.
        logger.warning("replay_cache_unavailable", exc_info=True)
        fresh = True
    if not fresh or not await repository.record_assertion(
        session,
        party_id=client.party.id,
        jti=client.jti,
        expires_at=datetime.fromtimestamp(client.expires_at, UTC),
    ):
        raise _client_refused("assertion_replayed", "this assertion (jti) was used before")


async def issue_token(
    *,
    session: AsyncSession,
    cache: Cache,
    settings: IdentitySettings,
    signing_key: OKPKey,
    grant_type: str | None,
    client_assertion_type: str | None,
    client_assertion: str | None,
    client_id: str | None = None,
    scope: str | None = None,
    now: float,
) -> IssuedToken:
    """Answer a client-credentials request at `now` (the request's clock): authenticate the
    client, grant scopes, sign."""
    assertion = check_request(
        grant_type=grant_type,
        client_assertion_type=client_assertion_type,
        client_assertion=client_assertion,
    )
    requested = parse_scope(scope)
    try:
        client = await authenticate_client(
            session=session, settings=settings, assertion=assertion, client_id=client_id, now=now
        )
        scopes = grant_scopes(client.party.roles, requested)
        await spend_assertion(session=session, cache=cache, client=client, now=now)
    except OAuthError as refusal:
        # Protective monitoring: a refused client is worth a log line, never the token.
        logger.info("token_refused", code=refusal.code, error=refusal.error)
        raise

    lifetime = settings.access_token_lifetime_seconds
    token = issue_access_token(
        signing_key,
        issuer=settings.issuer,
        party_id=client.party.id,
        party_roles=list(client.party.roles),
        scopes=list(scopes),
        now=int(now),
        lifetime=lifetime,
    )
    token_id = str(jose.peek(token)[1]["jti"])
    await append(
        session,
        "token.issued",
        {
            "actor": f"client:{client.party.id}",
            "party_id": client.party.id,
            "kid": client.kid,
            "assertion_jti": client.jti,
            "token_jti": token_id,
            "scopes": list(scopes),
            "expires_at": int(now) + lifetime,
        },
    )
    return IssuedToken(
        access_token=token,
        token_id=token_id,
        expires_in=lifetime,
        scopes=scopes,
        party_id=client.party.id,
    )


async def purge_used_assertions(*, session: AsyncSession, now: datetime) -> int:
    """Forget spent assertions that have expired (they can no longer be replayed anyway)."""
    return await repository.purge_used_assertions(session, before=now)
