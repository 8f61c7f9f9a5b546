"""The caller of the release service and his rights: a domain concept, not a FastAPI one.

`deps.py` verifies the caller's token and wraps these in FastAPI dependencies; services,
repositories and models import them from here.
"""

from dataclasses import dataclass

from services.release.identity_directory import IdentityDirectory
from shared.auth import Principal, StatusReference
from shared.credentials import LEEWAY, CredentialError
from shared.problems import Unauthorised
from shared.status_list import StatusValue


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


# What a person of a party may do stands in for the scopes a client's token carries
# (person tokens carry none): scope -> the person roles that may act under it.
PERSON_ROLES_BY_SCOPE: dict[str, frozenset[str]] = {
    "releases:read": frozenset({"dispatcher", "operator", "officer", "driver"}),
    "releases:write": frozenset({"dispatcher"}),
    "chain:write": frozenset({"dispatcher"}),
    "holds:write": frozenset({"operator", "officer"}),
    "gate": frozenset({"operator"}),
    "inspections": frozenset({"officer"}),
}


def allows(caller: Caller, scope: str) -> bool:
    """A client with the scope, or a person whose role acts under it."""
    if caller.is_person:
        return caller.principal.person_role in PERSON_ROLES_BY_SCOPE.get(scope, frozenset())
    return scope in caller.principal.scopes


async def check_person_status(
    directory: IdentityDirectory, status: StatusReference | None, *, now: float
) -> None:
    """401 unless the person's published status entry says VALID.

    The identity service suspends a person by flipping his entry; this service reads the
    list as it reads credentials' (refreshed every `identity_refresh_seconds`), so a
    suspended dispatcher or driver is refused within that time, not when his token expires.
    """
    if status is None:
        raise Unauthorised(
            "person_status_unknown", "the token names no status entry of the person: sign in again"
        )
    try:
        published = await directory.status_list(status.uri)
        value = published.status(status.idx)
    except CredentialError as exc:
        raise Unauthorised("person_status_unknown", exc.detail) from exc
    if now >= published.expires_at + LEEWAY:
        raise Unauthorised("person_status_unknown", "the person's status list has expired")
    if value != StatusValue.VALID:
        raise Unauthorised("person_not_active", "the person is suspended")
