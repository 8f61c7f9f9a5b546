"""Every table of the identity service, imported in one place (migrations, tests)."""

from services.identity.credentials.models import Credential, StatusList
from services.identity.keys.models import PartyKey
from services.identity.oauth.models import UsedAssertion
from services.identity.parties.models import Party
from services.identity.people.models import Person
from services.identity.signing.models import SigningKey
from shared.audit.models import AuditCheckpoint, AuditEvent, AuditTile, AuditTreeState

__all__ = [
    "AuditCheckpoint",
    "AuditEvent",
    "AuditTile",
    "AuditTreeState",
    "Credential",
    "Party",
    "PartyKey",
    "Person",
    "SigningKey",
    "StatusList",
    "UsedAssertion",
]
