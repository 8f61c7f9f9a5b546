"""Inspections: the VRF keys, the verifiable draws, the inspections they open; and the
draw and inspection a gate decision names.

Revision ID: release_0005_inspections
Revises: release_0004_yard
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from shared.models import UTCDateTime

revision: str = "release_0005_inspections"
down_revision: str | None = "release_0004_yard"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "inspection_keys",
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("public_key", sa.LargeBinary(), nullable=False),
        sa.Column("first_used_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key_id", name="pk_inspection_keys"),
    )
    op.create_table(
        "inspection_draws",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("alpha", sa.Text(), nullable=False),
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("pi", sa.LargeBinary(), nullable=False),
        sa.Column("beta", sa.LargeBinary(), nullable=False),
        sa.Column("u", sa.Float(), nullable=False),
        sa.Column("probability", sa.Float(), nullable=False),
        sa.Column("selected", sa.Boolean(), nullable=False),
        sa.Column("drawn_at", UTCDateTime(), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("decision_id", sa.Uuid(), nullable=True),
        sa.Column("release_id", sa.Uuid(), nullable=True),
        sa.Column("container", sa.String(length=11), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_inspection_draws"),
    )
    op.create_index("ix_inspection_draws_purpose", "inspection_draws", ["purpose"])
    op.create_index("ix_inspection_draws_drawn_at", "inspection_draws", ["drawn_at"])
    op.create_index("ix_inspection_draws_release_id", "inspection_draws", ["release_id"])
    op.create_index("ix_inspection_draws_container", "inspection_draws", ["container"])
    op.create_index(
        "uq_inspection_draws_decision",
        "inspection_draws",
        ["decision_id"],
        unique=True,
        postgresql_where=sa.text("decision_id IS NOT NULL"),
        sqlite_where=sa.text("decision_id IS NOT NULL"),
    )
    op.create_table(
        "inspections",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("container", sa.String(length=11), nullable=False),
        sa.Column("terminal_id", sa.String(length=40), nullable=False),
        sa.Column("release_id", sa.Uuid(), nullable=False),
        sa.Column("decision_id", sa.Uuid(), nullable=False),
        sa.Column("draw_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("requested_by", sa.String(length=100), nullable=False),
        sa.Column("opened_at", UTCDateTime(), nullable=False),
        sa.Column("closed_by", sa.String(length=100), nullable=True),
        sa.Column("closed_at", UTCDateTime(), nullable=True),
        sa.Column("note", sa.String(length=2000), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_inspections"),
        sa.UniqueConstraint("decision_id", name="uq_inspections_decision_id"),
    )
    op.create_index("ix_inspections_container", "inspections", ["container"])
    op.create_index("ix_inspections_terminal_id", "inspections", ["terminal_id"])
    op.create_index("ix_inspections_release_id", "inspections", ["release_id"])
    op.create_index(
        "uq_inspections_open_container",
        "inspections",
        ["container"],
        unique=True,
        postgresql_where=sa.text("status = 'open'"),
        sqlite_where=sa.text("status = 'open'"),
    )
    with op.batch_alter_table("gate_decisions") as batch:
        batch.add_column(sa.Column("draw_id", sa.Uuid(), nullable=True))
        batch.add_column(sa.Column("inspection_id", sa.Uuid(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("gate_decisions") as batch:
        batch.drop_column("inspection_id")
        batch.drop_column("draw_id")
    op.drop_table("inspections")
    op.drop_table("inspection_draws")
    op.drop_table("inspection_keys")
