"""Dependencies of the release service: settings, the identity service, the caller, his rights.

The caller's access token is verified with the identity service's published keys; his party
must still hold a credential that is valid now (a revoked or suspended party's tokens stop
working within the directory's refresh interval, not when they expire).
"""

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from services.release.identity_client import IdentityApi, IdentityDirectory
from services.release.settings import ReleaseSettings
from shared import jose
from shared.auth import Principal, verify_access_token
from shared.credentials import CredentialError, check_credential
from shared.problems import Forbidden, Unauthorised


def get_settings(request: Request) -> ReleaseSettings:
    """The service's settings."""
    settings: ReleaseSettings = request.app.state.settings
    return settings


def get_directory(request: Request) -> IdentityDirectory:
    """The identity service's keys, credentials and status lists."""
    directory: IdentityDirectory = request.app.state.identity_directory
    return directory


def get_identity_api(request: Request) -> IdentityApi:
    """Calls to the identity service on behalf of the caller."""
    api: IdentityApi = request.app.state.identity_api
    return api


SettingsDep = Annotated[ReleaseSettings, Depends(get_settings)]
DirectoryDep = Annotated[IdentityDirectory, Depends(get_directory)]
IdentityApiDep = Annotated[IdentityApi, Depends(get_identity_api)]


@dataclass(frozen=True)
class Caller:
    """The verified caller and his token (forwarded when the identity service acts for him)."""

    principal: Principal
    token: str

    @property
    def party_id(self) -> str:
        """The caller's party."""
        return self.principal.party_id

    @property
    def is_person(self) -> bool:
        """Whether a signed-in person calls (not a party's API client)."""
        return self.principal.person_id is not None

    def has(self, role: str) -> bool:
        """Whether the caller's party has this role."""
        return role in self.principal.party_roles

    @property
    def is_driver(self) -> bool:
        """A driver sees and does only what concerns his own assignments."""
        return self.principal.person_role == "driver"


def bearer_token(request: Request) -> str:
    """The bearer token of the request, or 401."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorised("token_missing", "send an access token as 'Authorization: Bearer …'")
    return token.strip()


async def get_caller(request: Request, settings: SettingsDep, directory: DirectoryDep) -> Caller:
    """The verified caller, whose party still holds a valid credential."""
    token = bearer_token(request)
    try:
        header, _ = jose.peek(token)
    except jose.TokenError as exc:
        raise Unauthorised(exc.code, exc.detail) from exc
    kid = header.get("kid")
    resolve = await directory.resolver(kid if isinstance(kid, str) else "")
    now = time.time()
    principal = verify_access_token(
        token, issuer=settings.identity_issuer, resolve_key=resolve, now=now
    )
    evidence = await directory.evidence([principal.party_id])
    for credential in evidence.credentials.get(principal.party_id, ()):
        try:
            check_credential(credential, at=now, status_lists=evidence.status_lists, now=now)
        except CredentialError:
            continue
        return Caller(principal, token)
    raise Unauthorised(
        "party_not_active", "the caller's party holds no valid credential (suspended or revoked)"
    )


CurrentCaller = Annotated[Caller, Depends(get_caller)]

# What a person of a party may do stands in for the scopes a client's token carries
# (person tokens carry none): scope -> the person roles that may act under it.
PERSON_ROLES_BY_SCOPE: dict[str, frozenset[str]] = {
    "releases:read": frozenset({"dispatcher", "operator", "officer", "driver"}),
    "releases:write": frozenset({"dispatcher"}),
    "chain:write": frozenset({"dispatcher"}),
    "holds:write": frozenset({"operator", "officer"}),
    "gate": frozenset({"operator"}),
}


def allows(caller: Caller, scope: str) -> bool:
    """A client with the scope, or a person whose role acts under it."""
    if caller.is_person:
        return caller.principal.person_role in PERSON_ROLES_BY_SCOPE.get(scope, frozenset())
    return scope in caller.principal.scopes


def require(scope: str, *party_roles: str) -> Callable[[Caller], Caller]:
    """A dependency admitting callers with the scope whose party has one of these roles."""

    def check(caller: CurrentCaller) -> Caller:
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
