"""Protective monitoring: alerts with a lifecycle, rule thresholds, the rules' cursors.

Alerts raised before this revision become open alerts of the rule named by their kind, with
no evidence listed (their facts say what they are about).

Revision ID: release_0011_monitoring
Revises: release_0010_judged_status_lists
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from shared.models import UTCDateTime
from shared.monitoring.migration import create_monitoring_tables, drop_monitoring_tables

revision: str = "release_0011_monitoring"
down_revision: str | None = "release_0010_judged_status_lists"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LIFECYCLE = (
    "acknowledged_by",
    "acknowledged_at",
    "closed_by",
    "closed_at",
    "outcome",
    "close_reason",
)


def upgrade() -> None:
    with op.batch_alter_table("alerts") as batch:
        batch.add_column(
            sa.Column("status", sa.String(length=16), nullable=False, server_default="open")
        )
        batch.add_column(sa.Column("rule", sa.String(length=40), nullable=True))
        batch.add_column(sa.Column("subject", sa.String(length=120), nullable=True))
        batch.add_column(sa.Column("evidence", sa.JSON(), nullable=False, server_default="[]"))
        batch.add_column(sa.Column("dedup_key", sa.String(length=250), nullable=True))
        batch.add_column(sa.Column("acknowledged_by", sa.String(length=100), nullable=True))
        batch.add_column(sa.Column("acknowledged_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("closed_by", sa.String(length=100), nullable=True))
        batch.add_column(sa.Column("closed_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("outcome", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("close_reason", sa.String(length=2000), nullable=True))
    op.execute("UPDATE alerts SET rule = kind")
    with op.batch_alter_table("alerts") as batch:
        batch.alter_column("rule", existing_type=sa.String(length=40), nullable=False)
        batch.create_unique_constraint("uq_alerts_dedup_key", ["dedup_key"])
        batch.create_index("ix_alerts_status", ["status"])
        batch.create_index("ix_alerts_subject", ["subject"])
    create_monitoring_tables()
    # Every alert raised so far is in the stream's history, in the order raised.
    op.execute(
        "INSERT INTO alert_changes (alert_id, change, at)"
        " SELECT id, 'alert.raised', raised_at FROM alerts ORDER BY raised_at, id"
    )


def downgrade() -> None:
    drop_monitoring_tables()
    with op.batch_alter_table("alerts") as batch:
        batch.drop_index("ix_alerts_subject")
        batch.drop_index("ix_alerts_status")
        batch.drop_constraint("uq_alerts_dedup_key", type_="unique")
        for column in ("status", "rule", "subject", "evidence", "dedup_key", *LIFECYCLE):
            batch.drop_column(column)
