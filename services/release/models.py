"""Every table of the release service, imported in one place (migrations, tests)."""

from services.release.gate.models import UsedGatePass
from shared.audit.models import AuditCheckpoint, AuditEvent, AuditTile, AuditTreeState

__all__ = ["AuditCheckpoint", "AuditEvent", "AuditTile", "AuditTreeState", "UsedGatePass"]
