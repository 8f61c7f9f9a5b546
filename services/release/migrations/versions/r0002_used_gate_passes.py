"""Gate passes spent at the gate (single use).

Revision ID: release_0002
Revises: release_0001
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from shared.models import UTCDateTime

revision: str = "release_0002"
down_revision: str | None = "release_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "used_gate_passes",
        sa.Column("jti", sa.String(200), nullable=False),
        sa.Column("person_id", sa.Uuid(), nullable=False),
        sa.Column("party_id", sa.String(40), nullable=False),
        sa.Column("used_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("jti", name="pk_used_gate_passes"),
    )
    op.create_index("ix_used_gate_passes_person_id", "used_gate_passes", ["person_id"])
    op.create_index("ix_used_gate_passes_expires_at", "used_gate_passes", ["expires_at"])


def downgrade() -> None:
    op.drop_table("used_gate_passes")
