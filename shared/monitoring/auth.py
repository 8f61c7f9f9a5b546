"""Who may read alerts and who may act on them, in both services.

Reading: a person of a port-security party with the `officer` role, or that party's API
client holding the scope `alerts:read`. Acknowledging, closing and setting thresholds: an
officer of a port-security party only, never a client token (a decision about a person is
a person's, named in the audit log).
"""

from shared.auth import Principal
from shared.problems import Forbidden

PORT_SECURITY = "port_security"
OFFICER = "officer"
READ_SCOPE = "alerts:read"


def check_reader(principal: Principal) -> Principal:
    """The principal if he may read alerts; 403 otherwise."""
    if PORT_SECURITY not in principal.party_roles:
        raise Forbidden("role_required", "alerts are port security's")
    if principal.person_id is not None:
        if principal.person_role != OFFICER:
            raise Forbidden("role_required", "alerts are read by port security's officers")
    elif READ_SCOPE not in principal.scopes:
        raise Forbidden("scope_required", f"this needs the scope {READ_SCOPE!r}")
    return principal


def check_officer(principal: Principal) -> Principal:
    """The principal if he is an officer of port security (a person); 403 otherwise."""
    if PORT_SECURITY not in principal.party_roles:
        raise Forbidden("role_required", "alerts are port security's")
    if principal.person_id is None:
        raise Forbidden("person_required", "an officer of port security decides, not a client")
    if principal.person_role != OFFICER:
        raise Forbidden("role_required", "this needs an officer of port security")
    return principal
