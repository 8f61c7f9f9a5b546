"""One-time use of client assertions: the database is the backstop behind the cache."""

from datetime import datetime

from sqlmodel import Field, SQLModel

from shared.models import UTCDateTime


class UsedAssertion(SQLModel, table=True):
    """A `jti` a party has used in a client assertion; the primary key makes it once."""

    __tablename__ = "used_assertions"

    party_id: str = Field(primary_key=True, max_length=40)
    jti: str = Field(primary_key=True, max_length=200)
    expires_at: datetime = Field(sa_type=UTCDateTime, index=True)
