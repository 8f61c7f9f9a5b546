"""Cancelling a selection: the first officer's request, waiting for a second officer.

Revision ID: release_0006_cancellation
Revises: release_0005_inspections
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from shared.models import UTCDateTime

revision: str = "release_0006_cancellation"
down_revision: str | None = "release_0005_inspections"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("inspections") as batch:
        batch.add_column(sa.Column("cancel_requested_by", sa.String(length=100), nullable=True))
        batch.add_column(sa.Column("cancel_reason", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("cancel_requested_at", UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("inspections") as batch:
        batch.drop_column("cancel_requested_at")
        batch.drop_column("cancel_reason")
        batch.drop_column("cancel_requested_by")
