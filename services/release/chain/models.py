"""Links: the signed steps of a release's chain, and the receivers' acceptances."""

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, Index, Text, text
from sqlmodel import Field, SQLModel

from shared.models import UTCDateTime, utcnow


class LinkKind(StrEnum):
    """The three kinds of step (docs/design.md, Domain)."""

    release = "release"
    handover = "handover"
    assignment = "assignment"


class LinkStatus(StrEnum):
    """A link waits for its receiver, who accepts or declines; its signer may withdraw it."""

    pending = "pending"
    accepted = "accepted"
    declined = "declined"
    withdrawn = "withdrawn"


LIVE_STATUSES = (LinkStatus.pending, LinkStatus.accepted)


class Link(SQLModel, table=True):
    """One signed step; declined and withdrawn links stay, as evidence."""

    __tablename__ = "links"
    __table_args__ = (
        # One live link per position: a withdrawn or declined step may be made again.
        Index(
            "uq_links_live_seq",
            "release_id",
            "seq",
            unique=True,
            postgresql_where=text("status IN ('pending', 'accepted')"),
            sqlite_where=text("status IN ('pending', 'accepted')"),
        ),
        # When a party first received a step: the gate's `new_carrier` risk factor.
        Index("ix_links_receiver_party_created_at", "receiver_party", "created_at"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    release_id: uuid.UUID = Field(foreign_key="releases.id", index=True)
    seq: int
    kind: str = Field(max_length=16)
    from_party: str = Field(index=True, max_length=40)
    to: str = Field(index=True, max_length=64)
    # The receiver's party: `to` itself, or for an assignment the driver's party.
    receiver_party: str = Field(index=True, max_length=40)
    jws: str = Field(sa_column=Column(Text, nullable=False))
    jws_hash: str = Field(max_length=43)
    # A link's jti is accepted once, across every release: a replay hits this constraint.
    jti: str = Field(unique=True, max_length=200)
    kid: str = Field(max_length=64)
    iat: datetime = Field(sa_type=UTCDateTime)
    exp: datetime = Field(sa_type=UTCDateTime)
    status: str = Field(default=LinkStatus.pending, max_length=16)
    ack: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    ack_jti: str | None = Field(default=None, unique=True, max_length=200)
    submitted_by: str = Field(max_length=100)
    decided_by: str | None = Field(default=None, max_length=100)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    decided_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
