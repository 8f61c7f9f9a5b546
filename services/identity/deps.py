"""Dependencies of the identity service: settings, keyring, clock, the caller and his rights.

The caller's standing and his rights are domain concepts in `services.identity.auth`; this
module only wraps them (and the sign-in rate limit) for FastAPI.
"""

from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlmodel.ext.asyncio.session import AsyncSession

from services.identity.auth import check_standing, is_admin
from services.identity.clock import current_time
from services.identity.people.models import PersonRole
from services.identity.sessions.ratelimit import (
    SignInLimiter,
    client_address,
    limiter_for,
)
from services.identity.settings import IdentitySettings
from services.identity.signing.keyring import KeyRingCache
from services.identity.signing.service import KeyRing
from shared.auth import Principal, verify_access_token
from shared.deps import CacheDep, ReadSessionDep, SessionDep
from shared.problems import Forbidden, Unauthorised


async def get_settings(request: Request) -> IdentitySettings:
    """The service's settings."""
    settings: IdentitySettings = request.app.state.settings
    return settings


async def get_keyring_cache(request: Request) -> KeyRingCache:
    """The service's keyring cache."""
    cache: KeyRingCache = request.app.state.keyring
    return cache


async def get_keyring(cache: Annotated[KeyRingCache, Depends(get_keyring_cache)]) -> KeyRing:
    """The current keyring."""
    return await cache.get()


SettingsDep = Annotated[IdentitySettings, Depends(get_settings)]
KeyRingCacheDep = Annotated[KeyRingCache, Depends(get_keyring_cache)]
KeyRingDep = Annotated[KeyRing, Depends(get_keyring)]


async def get_client_address(request: Request, settings: SettingsDep) -> str:
    """The client's address, as the sign-in rate limit counts it."""
    return client_address(request, settings)


async def get_limiter(settings: SettingsDep, cache: CacheDep) -> SignInLimiter:
    """The sign-in limiter over the service's cache."""
    return limiter_for(settings, cache)


# The clock of every handler: `current_time` is the one source of the time in a request, and
# tests set it with `app.dependency_overrides[current_time]`. NowDep is that time in seconds
# since the epoch (NumericDate: tokens, TOTP codes, rate limits); UtcNowDep is the same
# instant as an aware UTC datetime (stored rows, audit entries), converted only here. FastAPI
# resolves a dependency once per request, so a handler that takes both sees one instant.
NowDep = Annotated[float, Depends(current_time)]


async def current_utc_datetime(now: NowDep) -> datetime:
    """The request's time (NowDep) as an aware UTC datetime."""
    return datetime.fromtimestamp(now, UTC)


UtcNowDep = Annotated[datetime, Depends(current_utc_datetime)]

# The sign-in, TOTP and gate-pass endpoints' address and limiter.
ClientAddressDep = Annotated[str, Depends(get_client_address)]
LimiterDep = Annotated[SignInLimiter, Depends(get_limiter)]


def bearer_token(request: Request) -> str:
    """The bearer token of the request, or 401."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorised("token_missing", "send an access token as 'Authorization: Bearer …'")
    return token.strip()


async def _verified(
    request: Request, session: AsyncSession, settings: IdentitySettings, ring: KeyRing, now: float
) -> Principal:
    principal = verify_access_token(
        bearer_token(request), issuer=settings.issuer, resolve_key=ring.resolve, now=now
    )
    await check_standing(session, principal)
    return principal


async def get_principal(
    request: Request, session: SessionDep, settings: SettingsDep, ring: KeyRingDep, now: NowDep
) -> Principal:
    """The verified caller; his party (and person) must still be in good standing."""
    return await _verified(request, session, settings, ring, now)


async def get_reading_principal(
    request: Request,
    session: ReadSessionDep,
    settings: SettingsDep,
    ring: KeyRingDep,
    now: NowDep,
) -> Principal:
    """The same, checked in the request's read session: for endpoints that only read and
    record the read in a transaction of its own (monitoring/reads.py). On SQLite the write
    session takes the write lock when it begins, and the record would wait for the request
    that writes it; a write session per reading request would also take a second
    connection for nothing."""
    return await _verified(request, session, settings, ring, now)


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]
ReadingPrincipal = Annotated[Principal, Depends(get_reading_principal)]


async def require_admin(principal: CurrentPrincipal) -> Principal:
    """An administrator: a client of an admin party, or a person with the admin role."""
    if not is_admin(principal):
        raise Forbidden("admin_required", "this needs the admin role")
    return principal


AdminPrincipal = Annotated[Principal, Depends(require_admin)]


def require_person(
    *roles: PersonRole,
) -> Callable[[Principal], Coroutine[Any, Any, Principal]]:
    """A dependency that admits only a signed-in person with one of these roles."""

    async def check(principal: CurrentPrincipal) -> Principal:
        if principal.person_id is None:
            raise Forbidden("person_required", "this needs a person's sign-in")
        if roles and principal.person_role not in roles:
            raise Forbidden("role_required", f"this needs one of the roles {sorted(roles)}")
        return principal

    return check
