"""Every table of the identity service, imported in one place (migrations, tests)."""

from services.identity.credentials.models import Credential, StatusList
from services.identity.keys.models import PartyKey
from services.identity.oauth.models import UsedAssertion
from services.identity.parties.models import Party
from services.identity.people.models import Person, PersonSuspension
from services.identity.screening.models import IntegrityMatch, ScreeningDocument
from services.identity.signing.models import SigningKey
from shared.audit.models import AuditCheckpoint, AuditEvent, AuditTile, AuditTreeState
from shared.monitoring.models import (
    Alert,
    AlertChange,
    MonitoringCursor,
    MonitoringMark,
    MonitoringRule,
)

__all__ = [
    "Alert",
    "AlertChange",
    "AuditCheckpoint",
    "AuditEvent",
    "AuditTile",
    "AuditTreeState",
    "Credential",
    "IntegrityMatch",
    "MonitoringCursor",
    "MonitoringMark",
    "MonitoringRule",
    "Party",
    "PartyKey",
    "Person",
    "PersonSuspension",
    "ScreeningDocument",
    "SigningKey",
    "StatusList",
    "UsedAssertion",
]
