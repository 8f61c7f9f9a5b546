"""A container draw names its release's visit number, drawn once per release and number.

Revision ID: release_0009_draw_visit
Revises: release_0008_visits
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "release_0009_draw_visit"
down_revision: str | None = "release_0008_visits"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("inspection_draws") as batch:
        batch.add_column(sa.Column("visit", sa.Integer(), nullable=True))
    op.create_index(
        "uq_inspection_draws_release_visit",
        "inspection_draws",
        ["release_id", "visit"],
        unique=True,
        postgresql_where=sa.text("visit IS NOT NULL"),
        sqlite_where=sa.text("visit IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("uq_inspection_draws_release_visit", table_name="inspection_draws")
    with op.batch_alter_table("inspection_draws") as batch:
        batch.drop_column("visit")
