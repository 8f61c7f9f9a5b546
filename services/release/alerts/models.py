"""Alerts: the table is protective monitoring's, shared by both services (shared.monitoring)."""

from shared.monitoring.models import Alert, AlertChange, AlertStatus, Severity

__all__ = ["Alert", "AlertChange", "AlertStatus", "Severity"]
