"""The access log: every read of release data, by whom, through which endpoint, for
protective monitoring and for "who knew?" (docs/access-log.md).

On PostgreSQL the table is partitioned by month of `at` (its primary key is `(id, at)`, as a
partitioned table's must hold the partition key); on SQLite it is one table. The model names
`id` alone as the key: ids come from one sequence and are unique on both backends.
"""

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, Column, Index
from sqlmodel import Field, SQLModel

from shared.models import BigId, UTCDateTime, utcnow


class AccessLogEntry(SQLModel, table=True):
    """One read (or attempted read) of release data."""

    __tablename__ = "access_log"
    __table_args__ = (
        # The sealer's queue (`sealed_in IS NULL`, in id order) and the verifier's groups.
        Index("ix_access_log_sealed_in_id", "sealed_in", "id"),
    )

    id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True))
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    actor: str = Field(index=True, max_length=100)
    party_id: str = Field(index=True, max_length=40)
    person_id: uuid.UUID | None = Field(default=None, index=True)
    # What was asked: `release.read`, `chain.read`, `release.search`, …
    action: str = Field(max_length=40)
    release_id: uuid.UUID | None = Field(default=None, index=True)
    container: str | None = Field(default=None, index=True, max_length=11)
    # `shown`, or `not_found` when the caller asked for what he may not see (or what does
    # not exist: he cannot tell the two apart, the log can).
    outcome: str = Field(max_length=16)
    results: int = 0
    # The route it was read through, method and path template: `GET /v1/releases/{release_id}`
    # (none for a read outside a request).
    endpoint: str | None = Field(default=None, max_length=200)
    # The seal that committed this row to the audit log: the lowest row id of that seal
    # (`access_log.sealed` names it as `first_id`); none until sealed. Not part of the digest.
    sealed_in: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
