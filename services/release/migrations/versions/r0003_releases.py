"""Releases, holds, links, gate decisions and gate-outs, and the access log.

Revision ID: release_0003
Revises: release_0002
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from shared.models import BigId, UTCDateTime

revision: str = "release_0003"
down_revision: str | None = "release_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "access_log",
        sa.Column("id", BigId, nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("party_id", sa.String(length=40), nullable=False),
        sa.Column("person_id", sa.Uuid(), nullable=True),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("release_id", sa.Uuid(), nullable=True),
        sa.Column("container", sa.String(length=11), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("results", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_access_log"),
    )
    op.create_index("ix_access_log_actor", "access_log", ["actor"], unique=False)
    op.create_index("ix_access_log_at", "access_log", ["at"], unique=False)
    op.create_index("ix_access_log_container", "access_log", ["container"], unique=False)
    op.create_index("ix_access_log_party_id", "access_log", ["party_id"], unique=False)
    op.create_index("ix_access_log_person_id", "access_log", ["person_id"], unique=False)
    op.create_index("ix_access_log_release_id", "access_log", ["release_id"], unique=False)
    op.create_table(
        "releases",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("container", sa.String(length=11), nullable=False),
        sa.Column("terminal_id", sa.String(length=40), nullable=False),
        sa.Column("shipping_line_id", sa.String(length=40), nullable=False),
        sa.Column("first_party_id", sa.String(length=40), nullable=False),
        sa.Column("reference", sa.String(length=100), nullable=True),
        sa.Column("valid_until", UTCDateTime(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("closed_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_releases"),
    )
    op.create_index("ix_releases_container", "releases", ["container"], unique=False)
    op.create_index("ix_releases_shipping_line_id", "releases", ["shipping_line_id"], unique=False)
    op.create_index("ix_releases_terminal_id", "releases", ["terminal_id"], unique=False)
    op.create_index(
        "uq_releases_open_container",
        "releases",
        ["container"],
        unique=True,
        postgresql_where=sa.text("status = 'open'"),
        sqlite_where=sa.text("status = 'open'"),
    )
    op.create_table(
        "gate_decisions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("container", sa.String(length=11), nullable=False),
        sa.Column("terminal_id", sa.String(length=40), nullable=False),
        sa.Column("release_id", sa.Uuid(), nullable=True),
        sa.Column("driver_id", sa.Uuid(), nullable=True),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("gate_pass_jti", sa.String(length=200), nullable=True),
        sa.Column("decided_by", sa.String(length=100), nullable=False),
        sa.Column("decided_at", UTCDateTime(), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("completed_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["release_id"], ["releases.id"], name="fk_gate_decisions_release_id_releases"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_gate_decisions"),
    )
    op.create_index("ix_gate_decisions_container", "gate_decisions", ["container"], unique=False)
    op.create_index("ix_gate_decisions_driver_id", "gate_decisions", ["driver_id"], unique=False)
    op.create_index("ix_gate_decisions_release_id", "gate_decisions", ["release_id"], unique=False)
    op.create_index(
        "ix_gate_decisions_terminal_id", "gate_decisions", ["terminal_id"], unique=False
    )
    op.create_table(
        "links",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("release_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("from_party", sa.String(length=40), nullable=False),
        sa.Column("to", sa.String(length=64), nullable=False),
        sa.Column("receiver_party", sa.String(length=40), nullable=False),
        sa.Column("jws", sa.Text(), nullable=False),
        sa.Column("jws_hash", sa.String(length=43), nullable=False),
        sa.Column("jti", sa.String(length=200), nullable=False),
        sa.Column("kid", sa.String(length=64), nullable=False),
        sa.Column("iat", UTCDateTime(), nullable=False),
        sa.Column("exp", UTCDateTime(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("ack", sa.Text(), nullable=True),
        sa.Column("ack_jti", sa.String(length=200), nullable=True),
        sa.Column("submitted_by", sa.String(length=100), nullable=False),
        sa.Column("decided_by", sa.String(length=100), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("decided_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["release_id"], ["releases.id"], name="fk_links_release_id_releases"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_links"),
        sa.UniqueConstraint("ack_jti", name="uq_links_ack_jti"),
        sa.UniqueConstraint("jti", name="uq_links_jti"),
    )
    op.create_index("ix_links_from_party", "links", ["from_party"], unique=False)
    op.create_index("ix_links_receiver_party", "links", ["receiver_party"], unique=False)
    op.create_index("ix_links_release_id", "links", ["release_id"], unique=False)
    op.create_index("ix_links_to", "links", ["to"], unique=False)
    op.create_index(
        "uq_links_live_seq",
        "links",
        ["release_id", "seq"],
        unique=True,
        postgresql_where=sa.text("status IN ('pending', 'accepted')"),
        sqlite_where=sa.text("status IN ('pending', 'accepted')"),
    )
    op.create_table(
        "release_holds",
        sa.Column("release_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("placed_by_party", sa.String(length=40), nullable=False),
        sa.Column("placed_by", sa.String(length=100), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("placed_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["release_id"], ["releases.id"], name="fk_release_holds_release_id_releases"
        ),
        sa.PrimaryKeyConstraint("release_id", "kind", name="pk_release_holds"),
    )
    op.create_table(
        "gate_outs",
        sa.Column("release_id", sa.Uuid(), nullable=False),
        sa.Column("decision_id", sa.Uuid(), nullable=False),
        sa.Column("completed_by", sa.String(length=100), nullable=False),
        sa.Column("completed_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["decision_id"], ["gate_decisions.id"], name="fk_gate_outs_decision_id_gate_decisions"
        ),
        sa.ForeignKeyConstraint(
            ["release_id"], ["releases.id"], name="fk_gate_outs_release_id_releases"
        ),
        sa.PrimaryKeyConstraint("release_id", name="pk_gate_outs"),
        sa.UniqueConstraint("decision_id", name="uq_gate_outs_decision_id"),
    )


def downgrade() -> None:
    for table in (
        "gate_outs",
        "release_holds",
        "links",
        "gate_decisions",
        "releases",
        "access_log",
    ):
        op.drop_table(table)
