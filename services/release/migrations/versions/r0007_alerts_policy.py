"""Alerts; terminals' inspection policies and daily capacity; a release's declared origin;
an index to find when a party first received a step.

Revision ID: release_0007_alerts_policy
Revises: release_0006_cancellation
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from shared.models import UTCDateTime

revision: str = "release_0007_alerts_policy"
down_revision: str | None = "release_0006_cancellation"
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
        sa.PrimaryKeyConstraint("id", name="pk_alerts"),
    )
    op.create_index("ix_alerts_kind", "alerts", ["kind"])
    op.create_index("ix_alerts_raised_at", "alerts", ["raised_at"])
    op.create_table(
        "inspection_policies",
        sa.Column("terminal_id", sa.String(length=40), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("base", sa.Float(), nullable=False),
        sa.Column("floor", sa.Float(), nullable=False),
        sa.Column("weights", sa.JSON(), nullable=False),
        sa.Column("origins", sa.JSON(), nullable=False),
        sa.Column("long_chain_links", sa.Integer(), nullable=False),
        sa.Column("new_carrier_days", sa.Integer(), nullable=False),
        sa.Column("daily_capacity", sa.Integer(), nullable=True),
        sa.Column("set_by", sa.String(length=100), nullable=False),
        sa.Column("set_at", UTCDateTime(), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("terminal_id", "version", name="pk_inspection_policies"),
    )
    op.create_table(
        "inspection_capacity_days",
        sa.Column("terminal_id", sa.String(length=40), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("used", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("terminal_id", "day", name="pk_inspection_capacity_days"),
    )
    with op.batch_alter_table("releases") as batch:
        batch.add_column(sa.Column("origin", sa.String(length=2), nullable=True))
    op.create_index("ix_links_receiver_party_created_at", "links", ["receiver_party", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_links_receiver_party_created_at", table_name="links")
    with op.batch_alter_table("releases") as batch:
        batch.drop_column("origin")
    op.drop_table("inspection_capacity_days")
    op.drop_table("inspection_policies")
    op.drop_table("alerts")
