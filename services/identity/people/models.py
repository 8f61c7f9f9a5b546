"""People: the persons of a party who sign in, dispatch, drive or inspect."""

import uuid
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import Column, Index, LargeBinary
from sqlmodel import Field, SQLModel

from shared.models import UTCDateTime, utcnow


class PersonRole(StrEnum):
    """What a person does for his party."""

    driver = "driver"
    dispatcher = "dispatcher"
    operator = "operator"
    officer = "officer"
    admin = "admin"


#: The roles whose work needs a valid screening (a certificate of conduct): those who move
#: containers or decide who does (docs/screening.md). They sign in only while screened, and
#: are registered with an identity document, so that integrity screening follows them
#: from employer to employer.
SCREENED_ROLES = frozenset({PersonRole.driver, PersonRole.dispatcher, PersonRole.operator})


class PersonStatus(StrEnum):
    """A suspended person can neither sign in nor get a gate pass."""

    active = "active"
    suspended = "suspended"


class SuspensionReason(StrEnum):
    """Why a person is suspended; only `integrity` is screened across employers."""

    integrity = "integrity"  # an integrity breach: a re-registration anywhere alerts
    investigation = "investigation"  # pending an inquiry
    left_employer = "left_employer"
    other = "other"  # the default, when no reason is given


class Person(SQLModel, table=True):
    """A person of one party, with a password and (once enrolled) a TOTP second factor."""

    __tablename__ = "people"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    party_id: str = Field(foreign_key="parties.id", index=True, max_length=40)
    role: str = Field(max_length=20)
    name: str = Field(max_length=200)
    username: str = Field(unique=True, max_length=100)
    password_hash: str = Field(max_length=300)
    screened_until: date | None = None
    status: str = Field(default=PersonStatus.active, max_length=20)
    # The TOTP secret, sealed under the key-encryption key and bound to this person.
    totp_secret_sealed: bytes | None = Field(default=None, sa_column=Column(LargeBinary))
    totp_confirmed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # The last TOTP time step accepted: each step is good for one sign-in only.
    totp_last_step: int | None = None
    # The person's entry in a published status list, named in his access tokens and gate
    # passes, so that services without this database learn of a suspension within seconds.
    # Taken at the first sign-in.
    status_list_id: int | None = Field(default=None, foreign_key="status_lists.id")
    status_index: int | None = None
    # Why the person is suspended now (None while active); the history is in
    # `person_suspensions`.
    suspension_reason: str | None = Field(default=None, max_length=20)
    # When his identity document was last recorded (its keyed hashes are in the screening
    # area's table; the document itself is never stored).
    identity_document_recorded_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class PersonSuspension(SQLModel, table=True):
    """One suspension of a person, with its reason: what yearly figures count."""

    __tablename__ = "person_suspensions"
    __table_args__ = (Index("ix_person_suspensions_reason_suspended_at", "reason", "suspended_at"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    person_id: uuid.UUID = Field(foreign_key="people.id", index=True)
    # The person's party when suspended (a person belongs to one party for ever today).
    party_id: str = Field(foreign_key="parties.id", max_length=40)
    reason: str = Field(max_length=20)
    suspended_at: datetime = Field(sa_type=UTCDateTime)
    suspended_by: str = Field(max_length=200)
    reinstated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
