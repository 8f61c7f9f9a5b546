"""Every table of the release service, imported in one place (migrations, tests)."""

from services.release.access.models import AccessLogEntry
from services.release.chain.models import Link
from services.release.gate.models import GateDecision, GateOut, UsedGatePass
from services.release.inspections.models import Draw, Inspection, InspectionKey
from services.release.releases.models import Hold, Release
from services.release.yard.models import YardEntry
from shared.audit.models import AuditCheckpoint, AuditEvent, AuditTile, AuditTreeState

__all__ = [
    "AccessLogEntry",
    "AuditCheckpoint",
    "AuditEvent",
    "AuditTile",
    "AuditTreeState",
    "Draw",
    "GateDecision",
    "GateOut",
    "Hold",
    "Inspection",
    "InspectionKey",
    "Link",
    "Release",
    "UsedGatePass",
    "YardEntry",
]
