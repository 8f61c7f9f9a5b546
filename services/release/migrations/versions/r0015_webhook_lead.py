"""Webhooks: one dispatcher leads at a time (docs/webhooks.md).

Every release process that does background work starts a dispatcher; the one that holds the
lead (a row here, renewed every few seconds) fans out and sends, the others wait to take
over when its lead runs out. So each subscription's share of sends holds for the whole
deployment, not once per process.

Revision ID: release_0015_webhook_lead
Revises: release_0014_webhook_queue_index
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from shared.models import UTCDateTime

revision: str = "release_0015_webhook_lead"
down_revision: str | None = "release_0014_webhook_queue_index"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "webhook_dispatcher_lead",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("holder", sa.String(length=120), nullable=False),
        sa.Column("until", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_webhook_dispatcher_lead"),
    )


def downgrade() -> None:
    op.drop_table("webhook_dispatcher_lead")
