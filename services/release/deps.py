"""Dependencies of the release service: settings, the clock, the identity service, the caller.

The caller's access token is verified with the identity service's published keys; his party
must still hold a credential that is valid now (a revoked or suspended party's tokens stop
working within the directory's refresh interval, not when they expire), and a signed-in
person's own status entry must be VALID (a suspended person is refused as quickly). The
caller and his rights themselves are domain concepts in `services.release.auth`; this module
only wraps them for FastAPI.
"""

from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, Request
from joserfc.jwk import Key

from services.release.auth import Caller, allows, check_person_status
from services.release.identity_api import IdentityApi
from services.release.identity_directory import IdentityDirectory
from services.release.inspections.keys import DrawingKey
from services.release.settings import ReleaseSettings
from shared import jose
from shared.auth import Principal, verify_access_token
from shared.models import utcnow
from shared.problems import Forbidden, Unauthorised


async def get_settings(request: Request) -> ReleaseSettings:
    """The service's settings."""
    settings: ReleaseSettings = request.app.state.settings
    return settings


async def get_directory(request: Request) -> IdentityDirectory:
    """The identity service's keys, credentials and status lists."""
    directory: IdentityDirectory = request.app.state.identity_directory
    return directory


async def get_identity_api(request: Request) -> IdentityApi:
    """Calls to the identity service on behalf of the caller."""
    api: IdentityApi = request.app.state.identity_api
    return api


async def current_time() -> datetime:
    """The time a request is handled at (tests override this dependency to move the clock)."""
    return utcnow()


async def get_drawing_key(request: Request) -> DrawingKey:
    """The service's inspection VRF key (its secret half never leaves the object)."""
    key: DrawingKey = request.app.state.drawing_key
    return key


SettingsDep = Annotated[ReleaseSettings, Depends(get_settings)]
DrawingKeyDep = Annotated[DrawingKey, Depends(get_drawing_key)]
DirectoryDep = Annotated[IdentityDirectory, Depends(get_directory)]
IdentityApiDep = Annotated[IdentityApi, Depends(get_identity_api)]
NowDep = Annotated[datetime, Depends(current_time)]


def bearer_token(request: Request) -> str:
    """The bearer token of the request, or 401."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorised("token_missing", "send an access token as 'Authorization: Bearer …'")
    return token.strip()


class VerifiedTokens:
    """Access tokens verified before, with the key object they verified under.

    A terminal's client sends the same token with every gate question for up to an hour;
    the same text under the same key verifies the same way, so it is checked once. A hit
    still needs the key the identity service publishes now to be that very key, and the
    token to be unexpired. Bounded: an attacker can make us forget, not remember more.
    """

    LIMIT = 10_000

    def __init__(self) -> None:
        self._known: dict[str, tuple[Principal, Key, float]] = {}

    def get(self, token: str, key: Key | None, now: float) -> Principal | None:
        """The principal of a token verified before under `key`, if it still holds."""
        known = self._known.get(token)
        if known is None or key is None or known[1] is not key or now >= known[2]:
            return None
        return known[0]

    def remember(self, token: str, principal: Principal, key: Key) -> None:
        """Remember a verified token until its `exp`."""
        if len(self._known) >= self.LIMIT:
            self._known.clear()
        self._known[token] = (principal, key, float(principal.claims["exp"]))

    def __len__(self) -> int:
        """How many tokens are remembered."""
        return len(self._known)

    def clear(self) -> None:
        """Forget every token (tests; an operator's reset)."""
        self._known.clear()


async def get_verified_tokens(request: Request) -> VerifiedTokens:
    """The app's memo of verified access tokens."""
    tokens: VerifiedTokens = request.app.state.verified_tokens
    return tokens


async def get_caller(
    request: Request,
    settings: SettingsDep,
    directory: DirectoryDep,
    verified: Annotated[VerifiedTokens, Depends(get_verified_tokens)],
    moment: NowDep,
) -> Caller:
    """The verified caller, whose party still holds a valid credential, judged at the
    request's time (the one its handler decides at)."""
    token = bearer_token(request)
    try:
        header, _ = jose.peek(token)
    except jose.TokenError as exc:
        raise Unauthorised(exc.code, exc.detail) from exc
    kid = header.get("kid")
    kid = kid if isinstance(kid, str) else ""
    resolve = await directory.resolver(kid)
    now = moment.timestamp()
    key = resolve(kid)
    principal = verified.get(token, key, now)
    if principal is None:
        principal = verify_access_token(
            token, issuer=settings.identity_issuer, resolve_key=resolve, now=now
        )
        if key is not None:
            verified.remember(token, principal, key)
    evidence = await directory.evidence([principal.party_id])
    if not evidence.holds_valid_credential(principal.party_id, now):
        raise Unauthorised(
            "party_not_active",
            "the caller's party holds no valid credential (suspended or revoked)",
        )
    if principal.person_id is not None:
        await check_person_status(directory, principal.status, now=now)
    return Caller(principal, token)


CurrentCaller = Annotated[Caller, Depends(get_caller)]


def require(scope: str, *party_roles: str) -> Callable[[Caller], Coroutine[Any, Any, Caller]]:
    """A dependency admitting callers with the scope whose party has one of these roles."""

    async def check(caller: CurrentCaller) -> Caller:
        if party_roles and not any(caller.has(role) for role in party_roles):
            raise Forbidden(
                "role_required", f"this needs a party with a role in {list(party_roles)}"
            )
        if not allows(caller, scope):
            raise Forbidden("scope_required", f"this needs the scope {scope!r}")
        return caller

    return check


Reader = Annotated[Caller, Depends(require("releases:read"))]
ShippingLine = Annotated[Caller, Depends(require("releases:write", "shipping_line"))]
ChainWriter = Annotated[Caller, Depends(require("chain:write", "forwarder", "carrier"))]
HoldPlacer = Annotated[Caller, Depends(require("holds:write", "customs", "terminal"))]
GateOperator = Annotated[Caller, Depends(require("gate", "terminal"))]
