"""Tables of integrity screening: keyed document hashes, and the matches already reported."""

import uuid
from datetime import datetime

from sqlalchemy import Column, Index, LargeBinary, UniqueConstraint
from sqlmodel import Field, SQLModel

from shared.models import UTCDateTime


class ScreeningDocument(SQLModel, table=True):
    """A person's identity document as its HMAC under one screening key (never in clear)."""

    __tablename__ = "screening_documents"
    __table_args__ = (
        # A person may hold several documents; each is kept once per key.
        UniqueConstraint("person_id", "key_id", "digest"),
        # The matching job looks hashes up by key and value.
        Index("ix_screening_documents_key_id_digest", "key_id", "digest"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    person_id: uuid.UUID = Field(foreign_key="people.id")
    key_id: str = Field(max_length=16)
    digest: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    recorded_at: datetime = Field(sa_type=UTCDateTime)


class IntegrityMatch(SQLModel, table=True):
    """A person found to hold the document of a person suspended for integrity, once
    reported (`integrity.match_found`), so that the scheduled job reports a pair once."""

    __tablename__ = "integrity_matches"
    __table_args__ = (UniqueConstraint("person_id", "matched_person_id"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    person_id: uuid.UUID = Field(foreign_key="people.id")
    matched_person_id: uuid.UUID = Field(foreign_key="people.id", index=True)
    found_at: datetime = Field(sa_type=UTCDateTime)
