"""Device keys and key notices: a person's own key beside his party's, and what admins are told.

A device key is a party key that belongs to one person (`person_id`): a driver's phone key,
certified by a credential whose subject is the person. A key notice is the record the
party's administrators read of a change to the party's keys (registered, retired).

Revision ID: identity_0004_device_keys
Revises: identity_0003_credentials
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from shared.models import UTCDateTime

revision: str = "identity_0004_device_keys"
down_revision: str | None = "identity_0003_credentials"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("party_keys") as batch:
        batch.add_column(sa.Column("person_id", sa.Uuid(), nullable=True))
        batch.create_foreign_key("fk_party_keys_person_id_people", "people", ["person_id"], ["id"])
        batch.create_index("ix_party_keys_person_id", ["person_id"])
    op.create_table(
        "key_notices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("party_id", sa.String(40), nullable=False),
        sa.Column("kid", sa.String(64), nullable=False),
        sa.Column("event", sa.String(40), nullable=False),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_key_notices"),
        sa.ForeignKeyConstraint(
            ["party_id"], ["parties.id"], name="fk_key_notices_party_id_parties"
        ),
    )
    op.create_index("ix_key_notices_party_id", "key_notices", ["party_id"])


def downgrade() -> None:
    op.drop_index("ix_key_notices_party_id", table_name="key_notices")
    op.drop_table("key_notices")
    with op.batch_alter_table("party_keys") as batch:
        batch.drop_index("ix_party_keys_person_id")
        batch.drop_constraint("fk_party_keys_person_id_people", type_="foreignkey")
        batch.drop_column("person_id")
