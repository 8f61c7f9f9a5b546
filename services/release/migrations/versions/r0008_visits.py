"""Drug-dog and patrol visits: sites, their teams, and the slots drawn for them (one per
site and slot start, which the database keeps unique).

Revision ID: release_0008_visits
Revises: release_0007_alerts_policy
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from shared.models import UTCDateTime

revision: str = "release_0008_visits"
down_revision: str | None = "release_0007_alerts_policy"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "visit_sites",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("visit_seconds", sa.Integer(), nullable=False),
        sa.Column("slot_seconds", sa.Integer(), nullable=False),
        sa.Column("slots_from", UTCDateTime(), nullable=False),
        sa.Column("slots_until", UTCDateTime(), nullable=True),
        sa.Column("rates", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("closed_event_id", sa.Uuid(), nullable=True),
        sa.Column("rates_event_id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_visit_sites"),
    )
    op.create_table(
        "visit_team_members",
        sa.Column("site_id", sa.Uuid(), nullable=False),
        sa.Column("person_id", sa.Uuid(), nullable=False),
        sa.Column("party_id", sa.String(length=40), nullable=False),
        sa.Column("added_by", sa.String(length=100), nullable=False),
        sa.Column("added_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["site_id"], ["visit_sites.id"], name="fk_visit_team_members_site_id_visit_sites"
        ),
        sa.PrimaryKeyConstraint("site_id", "person_id", name="pk_visit_team_members"),
    )
    op.create_index("ix_visit_team_members_person_id", "visit_team_members", ["person_id"])
    op.create_table(
        "visit_slots",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("site_id", sa.Uuid(), nullable=False),
        sa.Column("slot_start", UTCDateTime(), nullable=False),
        sa.Column("draw_id", sa.Uuid(), nullable=True),
        sa.Column("event_id", sa.Uuid(), nullable=True),
        sa.Column("visit", sa.Boolean(), nullable=False),
        sa.Column("late", sa.Boolean(), nullable=False),
        sa.Column("ends_at", UTCDateTime(), nullable=False),
        sa.Column("drawn_at", UTCDateTime(), nullable=False),
        sa.Column("rate", sa.Float(), nullable=False),
        sa.Column("zone", sa.String(length=64), nullable=False),
        sa.Column("rates_event_id", sa.Uuid(), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("reason", sa.String(length=32), nullable=True),
        sa.Column("note", sa.String(length=2000), nullable=True),
        sa.Column("outcome_by", sa.String(length=100), nullable=True),
        sa.Column("outcome_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["site_id"], ["visit_sites.id"], name="fk_visit_slots_site_id_visit_sites"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_visit_slots"),
        sa.UniqueConstraint("site_id", "slot_start", name="uq_visit_slots_site_id_slot_start"),
    )
    op.create_index("ix_visit_slots_slot_start", "visit_slots", ["slot_start"])
    op.create_index("ix_visit_slots_ends_at", "visit_slots", ["ends_at"])


def downgrade() -> None:
    op.drop_table("visit_slots")
    op.drop_table("visit_team_members")
    op.drop_table("visit_sites")
