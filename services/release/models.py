"""Every table of the release service, imported in one place (migrations, tests)."""

from services.release.access.models import AccessLogEntry
from services.release.alerts.models import Alert
from services.release.chain.models import Link
from services.release.gate.models import GateDecision, GateOut, JudgedStatusList, UsedGatePass
from services.release.inspections.models import (
    CapacityDay,
    Draw,
    Inspection,
    InspectionKey,
    InspectionPolicy,
)
from services.release.releases.models import Hold, Release
from services.release.visits.models import TeamMember, VisitSite, VisitSlot
from services.release.webhooks.models import Delivery, OutboxEvent, Subscription
from services.release.yard.models import YardEntry
from shared.audit.models import AuditCheckpoint, AuditEvent, AuditTile, AuditTreeState
from shared.monitoring.models import AlertChange, MonitoringCursor, MonitoringMark, MonitoringRule

__all__ = [
    "AccessLogEntry",
    "Alert",
    "AlertChange",
    "AuditCheckpoint",
    "AuditEvent",
    "AuditTile",
    "AuditTreeState",
    "CapacityDay",
    "Delivery",
    "Draw",
    "GateDecision",
    "GateOut",
    "Hold",
    "Inspection",
    "InspectionKey",
    "InspectionPolicy",
    "JudgedStatusList",
    "Link",
    "MonitoringCursor",
    "MonitoringMark",
    "MonitoringRule",
    "OutboxEvent",
    "Release",
    "Subscription",
    "TeamMember",
    "UsedGatePass",
    "VisitSite",
    "VisitSlot",
    "YardEntry",
]
