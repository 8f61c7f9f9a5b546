"""Protective monitoring: alerts with a lifecycle, rule thresholds, the rules' cursors.

The same tables as the release service's (shared.monitoring.models), for the identity
service's own rules (failed sign-ins and second factors, integrity matches).

Revision ID: identity_0006_monitoring
Revises: identity_0005_person_status
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from shared.models import BigId, UTCDateTime

revision: str = "identity_0006_monitoring"
down_revision: str | None = "identity_0005_person_status"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("severity", sa.String(length=8), nullable=False),
        sa.Column("summary", sa.String(length=500), nullable=False),
        sa.Column("facts", sa.JSON(), nullable=False),
        sa.Column("raised_at", UTCDateTime(), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("rule", sa.String(length=40), nullable=False),
        sa.Column("subject", sa.String(length=120), nullable=True),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("dedup_key", sa.String(length=250), nullable=True),
        sa.Column("acknowledged_by", sa.String(length=100), nullable=True),
        sa.Column("acknowledged_at", UTCDateTime(), nullable=True),
        sa.Column("closed_by", sa.String(length=100), nullable=True),
        sa.Column("closed_at", UTCDateTime(), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("close_reason", sa.String(length=2000), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_alerts"),
        sa.UniqueConstraint("dedup_key", name="uq_alerts_dedup_key"),
    )
    op.create_index("ix_alerts_kind", "alerts", ["kind"])
    op.create_index("ix_alerts_raised_at", "alerts", ["raised_at"])
    op.create_index("ix_alerts_status", "alerts", ["status"])
    op.create_index("ix_alerts_subject", "alerts", ["subject"])
    _create_monitoring_tables()


def downgrade() -> None:
    _drop_monitoring_tables()
    op.drop_table("alerts")


def _create_monitoring_tables() -> None:
    op.create_table(
        "alert_changes",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("alert_id", sa.Uuid(), nullable=False),
        sa.Column("change", sa.String(length=32), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_alert_changes"),
    )
    op.create_index("ix_alert_changes_alert_id", "alert_changes", ["alert_id"])
    op.create_table(
        "monitoring_rules",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("thresholds", sa.JSON(), nullable=False),
        sa.Column("changed_by", sa.String(length=100), nullable=False),
        sa.Column("changed_at", UTCDateTime(), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_monitoring_rules"),
    )
    op.create_table(
        "monitoring_cursors",
        sa.Column("source", sa.String(length=40), nullable=False),
        sa.Column("position", BigId, nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("source", name="pk_monitoring_cursors"),
    )
    op.create_table(
        "monitoring_marks",
        sa.Column("rule", sa.String(length=40), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("subject", sa.String(length=120), nullable=False),
        sa.Column("about", sa.String(length=200), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("rule", "event_id", name="pk_monitoring_marks"),
    )
    op.create_index(
        "ix_monitoring_marks_rule_subject_about_at",
        "monitoring_marks",
        ["rule", "subject", "about", "at"],
    )
    op.create_index("ix_monitoring_marks_rule_at", "monitoring_marks", ["rule", "at"])


def _drop_monitoring_tables() -> None:
    op.drop_index("ix_monitoring_marks_rule_at", table_name="monitoring_marks")
    op.drop_index("ix_monitoring_marks_rule_subject_about_at", table_name="monitoring_marks")
    op.drop_table("monitoring_marks")
    op.drop_table("monitoring_cursors")
    op.drop_table("monitoring_rules")
    op.drop_index("ix_alert_changes_alert_id", table_name="alert_changes")
    op.drop_table("alert_changes")
