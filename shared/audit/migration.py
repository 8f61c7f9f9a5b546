"""Schema of the audit log as Alembic operations, shared by both services' first revision.

Written out by hand (not from the models) so that a later change to a model never changes
what an old revision did.
"""

import sqlalchemy as sa
from alembic import op

from shared.models import BigId, UTCDateTime


def create_audit_tables() -> None:
    """Create the audit-log tables and the sequencer's queue index."""
    op.create_table(
        "audit_events",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("event_type", sa.String(100), nullable=False),
        sa.Column("event", sa.Text(), nullable=False),
        sa.Column("salt", sa.LargeBinary(), nullable=False),
        sa.Column("commitment", sa.LargeBinary(), nullable=False),
        sa.Column("log_index", BigId, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_audit_events"),
        sa.UniqueConstraint("event_id", name="uq_audit_events_event_id"),
        sa.UniqueConstraint("log_index", name="uq_audit_events_log_index"),
    )
    op.create_index(
        "ix_audit_events_pending",
        "audit_events",
        ["id"],
        postgresql_where=sa.text("log_index IS NULL"),
        sqlite_where=sa.text("log_index IS NULL"),
    )
    op.create_table(
        "audit_tiles",
        sa.Column("level", sa.SmallInteger(), nullable=False, autoincrement=False),
        sa.Column("tile_index", BigId, nullable=False, autoincrement=False),
        sa.Column("width", sa.SmallInteger(), nullable=False),
        sa.Column("hashes", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("level", "tile_index", name="pk_audit_tiles"),
    )
    op.create_table(
        "audit_checkpoints",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("size", BigId, nullable=False),
        sa.Column("root_hash", sa.LargeBinary(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_checkpoints"),
    )
    op.create_index("ix_audit_checkpoints_size", "audit_checkpoints", ["size"])
    op.create_table(
        "audit_tree",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("size", BigId, nullable=False),
        sa.Column("root_hash", sa.LargeBinary(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_tree"),
    )


def drop_audit_tables() -> None:
    """Undo `create_audit_tables`."""
    for table in ("audit_tree", "audit_checkpoints", "audit_tiles", "audit_events"):
        op.drop_table(table)
