"""Protective monitoring: alerts with a lifecycle, rule thresholds, the rules' cursors.

Revision ID: identity_0006_monitoring
Revises: identity_0005_person_status
Create Date: 2026-12-06
"""

from collections.abc import Sequence

revision: str = "identity_0006_monitoring"
down_revision: str | None = "identity_0005_person_status"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
