"""Integrity screening: keyed hashes of identity documents, suspensions for integrity.

Revision ID: identity_0007_integrity
Revises: identity_0006_monitoring
Create Date: 2026-12-06
"""

from collections.abc import Sequence

revision: str = "identity_0007_integrity"
down_revision: str | None = "identity_0006_monitoring"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
