"""Yard entries: what a terminal says is in its yard, and which line may release it.

Revision ID: release_0004_yard
Revises: release_0003
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from shared.models import UTCDateTime

revision: str = "release_0004_yard"
down_revision: str | None = "release_0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "yard_entries",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("terminal_id", sa.String(length=40), nullable=False),
        sa.Column("container", sa.String(length=11), nullable=False),
        sa.Column("shipping_line_id", sa.String(length=40), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("valid_until", UTCDateTime(), nullable=True),
        sa.Column("announced_by", sa.String(length=100), nullable=False),
        sa.Column("announced_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("withdrawn_at", UTCDateTime(), nullable=True),
        sa.Column("withdrawn_by", sa.String(length=100), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_yard_entries"),
    )
    op.create_index("ix_yard_entries_container", "yard_entries", ["container"], unique=False)
    op.create_index(
        "ix_yard_entries_shipping_line_id", "yard_entries", ["shipping_line_id"], unique=False
    )
    op.create_index("ix_yard_entries_terminal_id", "yard_entries", ["terminal_id"], unique=False)
    op.create_index(
        "uq_yard_entries_live",
        "yard_entries",
        ["terminal_id", "container"],
        unique=True,
        postgresql_where=sa.text("withdrawn_at IS NULL"),
        sqlite_where=sa.text("withdrawn_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_table("yard_entries")
