"""The release service's audit log.

Revision ID: release_0001
Revises:
Create Date: 2026-11-28
"""

from collections.abc import Sequence

from shared.audit.migration import create_audit_tables, drop_audit_tables

revision: str = "release_0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_audit_tables()


def downgrade() -> None:
    drop_audit_tables()
