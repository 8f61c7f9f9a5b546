"""Schema of the monitoring tables both services add beside their alerts, as Alembic
operations (the release service's revision 0011 and the identity service's 0006).

Written out by hand (not from the models) so that a later change to a model never changes
what an old revision did; like shared/audit/migration.py.
"""

import sqlalchemy as sa
from alembic import op

from shared.models import BigId, UTCDateTime


def create_monitoring_tables() -> None:
    """Create the tables of alert changes, rule settings, the runner's cursors and marks."""
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


def drop_monitoring_tables() -> None:
    """Drop what `create_monitoring_tables` made."""
    op.drop_index("ix_monitoring_marks_rule_at", table_name="monitoring_marks")
    op.drop_index("ix_monitoring_marks_rule_subject_about_at", table_name="monitoring_marks")
    op.drop_table("monitoring_marks")
    op.drop_table("monitoring_cursors")
    op.drop_table("monitoring_rules")
    op.drop_index("ix_alert_changes_alert_id", table_name="alert_changes")
    op.drop_table("alert_changes")
