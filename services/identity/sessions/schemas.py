"""API models of signing in and TOTP enrolment (apart from the table models)."""

import uuid
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field


def _storable(value: str) -> str:
    # Lone surrogates cannot be encoded (argon2, the database driver) and NUL or other
    # control characters cannot be stored in PostgreSQL text: refuse them as bad input
    # here rather than fail deeper down.
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text") from None
    if any(ord(char) < 0x20 or ord(char) == 0x7F for char in value):
        raise ValueError("must not contain control characters")
    return value


#: A TOTP code as people type it from an app or a hardware token: exactly six digits.
Otp = Annotated[str, Field(pattern=r"^[0-9]{6}$", examples=["123456"])]
Username = Annotated[str, Field(min_length=1, max_length=100), AfterValidator(_storable)]
Password = Annotated[str, Field(min_length=1, max_length=1024), AfterValidator(_storable)]


class SignInRequest(BaseModel):
    """A person signs in with username, password and a current TOTP code."""

    model_config = ConfigDict(extra="forbid")

    username: Username
    password: Password
    otp: Otp


class TokenResponse(BaseModel):
    """A person token, answered like the token endpoint answers (RFC 6749 §5.1)."""

    access_token: str
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105  (a token type, not a secret)
    expires_in: int


class TotpEnrolment(BaseModel):
    """A new (pending) TOTP secret: scan the QR code or enter the URI in an authenticator."""

    provisioning_uri: str
    qr_svg: str


class TotpConfirmRequest(BaseModel):
    """The first code from the newly enrolled authenticator."""

    model_config = ConfigDict(extra="forbid")

    otp: Otp


class TotpConfirmed(BaseModel):
    """The second factor is active from now on."""

    person_id: uuid.UUID
    confirmed_at: datetime


class DeviceKeyState(BaseModel):
    """One of a driver's device keys: whether his phone still holds a usable one."""

    kid: str
    status: str = Field(examples=["active"], description="`active` or `retired`")
    created_at: datetime


class CurrentSessionView(BaseModel):
    """The signed-in person behind a person token, as the service knows him now."""

    person_id: uuid.UUID
    username: str
    name: str
    role: str = Field(description="the person's role: driver, dispatcher, operator, ...")
    screened_until: date | None = Field(description="the last day his screening is valid")
    screening_valid: bool = Field(description="screened at least through today (UTC)")
    totp_confirmed: bool = Field(description="his second factor is active")
    party_id: str
    party_name: str
    party_roles: list[str]
    device_keys: list[DeviceKeyState] = Field(
        description="a driver's device keys, oldest first, retired ones included; empty for"
        " everyone else"
    )
    needs_device_key: bool = Field(
        description="a driver without an active device key: his phone must register one"
    )
    auth_time: int = Field(description="when he signed in (seconds since the epoch)")
    expires_at: int = Field(description="when this token expires (seconds since the epoch)")
    amr: list[str] = Field(description="how he signed in (RFC 8176), e.g. pwd and otp")
