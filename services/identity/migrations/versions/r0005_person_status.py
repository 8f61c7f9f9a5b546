"""People's status list entries: a suspension published like a credential's.

Revision ID: identity_0005_person_status
Revises: identity_0004_device_keys
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "identity_0005_person_status"
down_revision: str | None = "identity_0004_device_keys"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable: an entry is taken at a person's first sign-in after this revision.
    with op.batch_alter_table("people") as batch:
        batch.add_column(sa.Column("status_list_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("status_index", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            "fk_people_status_list_id_status_lists", "status_lists", ["status_list_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("people") as batch:
        batch.drop_constraint("fk_people_status_list_id_status_lists", type_="foreignkey")
        batch.drop_column("status_index")
        batch.drop_column("status_list_id")
