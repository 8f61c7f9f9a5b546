"""The status-list tokens gate decisions were judged with, kept once by their hash.

Revision ID: release_0010_judged_status_lists
Revises: release_0009_draw_visit
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from shared.models import UTCDateTime

revision: str = "release_0010_judged_status_lists"
down_revision: str | None = "release_0009_draw_visit"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "judged_status_lists",
        sa.Column("token_sha256", sa.String(length=43), nullable=False),
        sa.Column("uri", sa.String(length=500), nullable=False),
        sa.Column("token", sa.Text(), nullable=False),
        sa.Column("first_judged_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("token_sha256", name="pk_judged_status_lists"),
    )


def downgrade() -> None:
    op.drop_table("judged_status_lists")
