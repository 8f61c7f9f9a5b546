"""API models of the people area; a person's view never carries his secrets."""

import re
import uuid
from datetime import date, datetime
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    StrictStr,
)

from services.identity.parties.schemas import DisplayName
from services.identity.people.models import Person, PersonRole, SuspensionReason
from services.identity.people.passwords import MIN_PASSWORD_LENGTH
from services.identity.people.service import MAX_PASSWORD_LENGTH, USERNAME_PATTERN

_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _iso_date_text(value: object) -> object:
    # JSON has no date type: only "YYYY-MM-DD" is a date here, not a number of seconds.
    if not isinstance(value, str) or _ISO_DATE.fullmatch(value) is None:
        raise ValueError("a date is written YYYY-MM-DD")
    return value


def _encodable(value: SecretStr) -> SecretStr:
    # A lone surrogate parses from JSON but cannot be hashed (nor typed by anyone).
    try:
        value.get_secret_value().encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("the password is not valid text") from None
    return value


IsoDate = Annotated[date, BeforeValidator(_iso_date_text)]
# Secret in the API's types too: never in a repr, a log line or an error message.
DocumentNumber = Annotated[
    SecretStr,
    Field(
        min_length=1,
        max_length=64,
        description="passport, identity card or driving licence number; upper-cased, "
        "spaces and dashes left out; only its keyed hash is kept (docs/screening.md)",
    ),
]
DateOfBirth = Annotated[
    IsoDate, Field(description="YYYY-MM-DD; only hashed with the document number")
]
Password = Annotated[
    SecretStr,
    Field(min_length=MIN_PASSWORD_LENGTH, max_length=MAX_PASSWORD_LENGTH),
    AfterValidator(_encodable),
]


class PersonCreate(BaseModel):
    """Register a person of a party."""

    model_config = ConfigDict(extra="forbid")

    party_id: StrictStr = Field(min_length=1, max_length=64)
    role: PersonRole
    name: DisplayName
    username: StrictStr = Field(pattern=USERNAME_PATTERN, examples=["j.jansen"])
    password: Password
    screened_until: IsoDate | None = None
    # Required (together) for a driver, dispatcher or operator; optional for other roles.
    document_number: DocumentNumber | None = None
    date_of_birth: DateOfBirth | None = None


class PersonUpdate(BaseModel):
    """Change what an administrator may change of a person: the screening date, and his
    identity document (both fields together)."""

    model_config = ConfigDict(extra="forbid")

    screened_until: IsoDate | None = None
    document_number: DocumentNumber | None = None
    date_of_birth: DateOfBirth | None = None


class PersonSuspend(BaseModel):
    """Why a person is suspended (no body: `other`)."""

    model_config = ConfigDict(extra="forbid")

    reason: SuspensionReason = Field(
        default=SuspensionReason.other,
        description="`integrity`: screened across employers (docs/screening.md)",
    )


class PersonView(BaseModel):
    """A person as the API shows him: never his password hash or TOTP secret."""

    id: uuid.UUID
    party_id: str
    role: str
    name: str
    username: str
    screened_until: date | None
    status: str
    totp_enrolled: bool
    identity_document_recorded: bool = Field(
        description="an identity document is on record (as a keyed hash, never shown)"
    )
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, person: Person) -> "PersonView":
        """The view of a stored person, field by field (nothing secret is copied)."""
        return cls(
            id=person.id,
            party_id=person.party_id,
            role=person.role,
            name=person.name,
            username=person.username,
            screened_until=person.screened_until,
            status=person.status,
            totp_enrolled=person.totp_confirmed_at is not None,
            identity_document_recorded=person.identity_document_recorded_at is not None,
            created_at=person.created_at,
            updated_at=person.updated_at,
        )


class AssignableDriverView(BaseModel):
    """A driver his party's dispatcher may assign now (active, screening valid)."""

    person_id: uuid.UUID
    name: str
    screened_until: date = Field(description="the last day his screening is valid (UTC date)")
    has_device_key: bool = Field(
        description="he holds an active device key, with which he accepts his assignments"
    )


class AssignableDriverList(BaseModel):
    """The drivers of one party that may be assigned now, by name."""

    party_id: str
    items: list[AssignableDriverView]
