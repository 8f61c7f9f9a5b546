"""Dependencies of the identity service: settings, keyring, the caller and his rights."""

import time
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, Request

from services.identity.parties.models import Party, PartyRole, PartyStatus
from services.identity.people.models import Person, PersonRole, PersonStatus
from services.identity.settings import IdentitySettings
from services.identity.signing.keyring import KeyRingCache
from services.identity.signing.service import KeyRing
from shared.auth import Principal, verify_access_token
from shared.deps import SessionDep
from shared.problems import Forbidden, Unauthorised


def get_settings(request: Request) -> IdentitySettings:
    """The service's settings."""
    settings: IdentitySettings = request.app.state.settings
    return settings


def get_keyring_cache(request: Request) -> KeyRingCache:
    """The service's keyring cache."""
    cache: KeyRingCache = request.app.state.keyring
    return cache


async def get_keyring(cache: Annotated[KeyRingCache, Depends(get_keyring_cache)]) -> KeyRing:
    """The current keyring."""
    return await cache.get()


SettingsDep = Annotated[IdentitySettings, Depends(get_settings)]
KeyRingCacheDep = Annotated[KeyRingCache, Depends(get_keyring_cache)]
KeyRingDep = Annotated[KeyRing, Depends(get_keyring)]


def bearer_token(request: Request) -> str:
    """The bearer token of the request, or 401."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorised("token_missing", "send an access token as 'Authorization: Bearer …'")
    return token.strip()


async def get_principal(
    request: Request, session: SessionDep, settings: SettingsDep, ring: KeyRingDep
) -> Principal:
    """The verified caller; his party (and person) must still be in good standing."""
    principal = verify_access_token(
        bearer_token(request), issuer=settings.issuer, resolve_key=ring.resolve, now=time.time()
    )
    party = await session.get(Party, principal.party_id)
    if party is None or party.status != PartyStatus.active:
        raise Unauthorised("party_not_active", "the caller's party is suspended or revoked")
    if principal.person_id is not None:
        person = await session.get(Person, principal.person_id)
        if person is None or person.status != PersonStatus.active:
            raise Unauthorised("person_not_active", "the caller is suspended")
    return principal


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


def require_admin(principal: CurrentPrincipal) -> Principal:
    """An administrator: a client of an admin party, or a person with the admin role."""
    if principal.person_id is not None:
        allowed = principal.person_role == PersonRole.admin and (
            PartyRole.admin in principal.party_roles
        )
    else:
        allowed = PartyRole.admin in principal.party_roles
    if not allowed:
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
