"""Tables of the audit log: events with their commitments, hash tiles, checkpoints, state."""

import uuid
from datetime import datetime

from sqlalchemy import Column, Index, LargeBinary, SmallInteger, Text, text
from sqlmodel import Field, SQLModel

from shared.models import BigId, UTCDateTime, utcnow


class AuditEvent(SQLModel, table=True):
    """One event: the canonical JSON and salt kept beside the public commitment."""

    __tablename__ = "audit_events"
    __table_args__ = (
        # The sequencer's queue: events not yet in the tree, in commit-visible order.
        Index(
            "ix_audit_events_pending",
            "id",
            postgresql_where=text("log_index IS NULL"),
            sqlite_where=text("log_index IS NULL"),
        ),
    )

    id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True))
    event_id: uuid.UUID = Field(unique=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    event_type: str = Field(max_length=100)
    event: str = Field(sa_column=Column(Text, nullable=False))
    salt: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    commitment: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    log_index: int | None = Field(default=None, sa_column=Column(BigId, unique=True))


class AuditTile(SQLModel, table=True):
    """A C2SP hash tile; a partial tile is rewritten in place as it grows."""

    __tablename__ = "audit_tiles"

    level: int = Field(sa_column=Column(SmallInteger, primary_key=True, autoincrement=False))
    tile_index: int = Field(sa_column=Column(BigId, primary_key=True, autoincrement=False))
    width: int = Field(sa_column=Column(SmallInteger, nullable=False))
    hashes: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class AuditCheckpoint(SQLModel, table=True):
    """A signed checkpoint, kept for history: consistency can be proved from any of them."""

    __tablename__ = "audit_checkpoints"

    id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True))
    size: int = Field(sa_column=Column(BigId, nullable=False, index=True))
    root_hash: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    note: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class AuditTreeState(SQLModel, table=True):
    """The one row that says how far the sequencer has integrated."""

    __tablename__ = "audit_tree"

    id: int = Field(default=1, primary_key=True)
    size: int = Field(sa_column=Column(BigId, nullable=False))
    root_hash: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
