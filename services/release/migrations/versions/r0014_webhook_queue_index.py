"""Webhooks: each subscription's queue of due deliveries read through an index of its own.

The dispatcher claims, for each subscription, its earliest due deliveries (docs/webhooks.md):
an index on (subscription, status, retry time, event order) makes each of those reads a
short range scan, however many deliveries other subscribers have waiting.

Revision ID: release_0014_webhook_queue_index
Revises: release_0013_webhooks
Create Date: 2026-12-06
"""

from collections.abc import Sequence

from alembic import op

revision: str = "release_0014_webhook_queue_index"
down_revision: str | None = "release_0013_webhooks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_webhook_deliveries_queue",
        "webhook_deliveries",
        ["subscription_id", "status", "next_attempt_at", "outbox_id"],
    )


def downgrade() -> None:
    op.drop_index("ix_webhook_deliveries_queue", table_name="webhook_deliveries")
