"""Integrity screening: keyed hashes of identity documents, suspensions for integrity.

A person's identity document is kept only as HMACs under the screening keys
(`screening_documents`, one row per key); `integrity_matches` remembers which matches were
reported; a suspension has a reason (`people.suspension_reason`, and the history in
`person_suspensions` that yearly figures count). People suspended before this revision get
the reason `other`.

Revision ID: identity_0007_integrity
Revises: identity_0006_monitoring
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from shared.models import UTCDateTime

revision: str = "identity_0007_integrity"
down_revision: str | None = "identity_0006_monitoring"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("people") as batch:
        batch.add_column(sa.Column("suspension_reason", sa.String(20), nullable=True))
        batch.add_column(sa.Column("identity_document_recorded_at", UTCDateTime(), nullable=True))
    op.execute("UPDATE people SET suspension_reason = 'other' WHERE status = 'suspended'")
    op.create_table(
        "person_suspensions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("person_id", sa.Uuid(), nullable=False),
        sa.Column("party_id", sa.String(40), nullable=False),
        sa.Column("reason", sa.String(20), nullable=False),
        sa.Column("suspended_at", UTCDateTime(), nullable=False),
        sa.Column("suspended_by", sa.String(200), nullable=False),
        sa.Column("reinstated_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_person_suspensions"),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], name="fk_person_suspensions_person_id_people"
        ),
        sa.ForeignKeyConstraint(
            ["party_id"], ["parties.id"], name="fk_person_suspensions_party_id_parties"
        ),
    )
    op.create_index("ix_person_suspensions_person_id", "person_suspensions", ["person_id"])
    op.create_index(
        "ix_person_suspensions_reason_suspended_at",
        "person_suspensions",
        ["reason", "suspended_at"],
    )
    op.create_table(
        "screening_documents",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("person_id", sa.Uuid(), nullable=False),
        sa.Column("key_id", sa.String(16), nullable=False),
        sa.Column("digest", sa.LargeBinary(), nullable=False),
        sa.Column("recorded_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_screening_documents"),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], name="fk_screening_documents_person_id_people"
        ),
        # A person may hold several documents; each is kept once per key.
        sa.UniqueConstraint(
            "person_id",
            "key_id",
            "digest",
            name="uq_screening_documents_person_id_key_id_digest",
        ),
    )
    op.create_index(
        "ix_screening_documents_key_id_digest", "screening_documents", ["key_id", "digest"]
    )
    op.create_table(
        "integrity_matches",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("person_id", sa.Uuid(), nullable=False),
        sa.Column("matched_person_id", sa.Uuid(), nullable=False),
        sa.Column("found_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_integrity_matches"),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], name="fk_integrity_matches_person_id_people"
        ),
        sa.ForeignKeyConstraint(
            ["matched_person_id"],
            ["people.id"],
            name="fk_integrity_matches_matched_person_id_people",
        ),
        sa.UniqueConstraint(
            "person_id",
            "matched_person_id",
            name="uq_integrity_matches_person_id_matched_person_id",
        ),
    )
    op.create_index(
        "ix_integrity_matches_matched_person_id", "integrity_matches", ["matched_person_id"]
    )


def downgrade() -> None:
    op.drop_index("ix_integrity_matches_matched_person_id", table_name="integrity_matches")
    op.drop_table("integrity_matches")
    op.drop_index("ix_screening_documents_key_id_digest", table_name="screening_documents")
    op.drop_table("screening_documents")
    op.drop_index("ix_person_suspensions_reason_suspended_at", table_name="person_suspensions")
    op.drop_index("ix_person_suspensions_person_id", table_name="person_suspensions")
    op.drop_table("person_suspensions")
    with op.batch_alter_table("people") as batch:
        batch.drop_column("identity_document_recorded_at")
        batch.drop_column("suspension_reason")
