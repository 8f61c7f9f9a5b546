"""API models of the parties area (the table model stays in models.py)."""

import unicodedata
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictStr, StringConstraints

from services.identity.parties.models import Party, PartyRole


def _printable(value: str) -> str:
    # Control and format characters (and lone surrogates, which no database stores) have no
    # place in a name that appears in logs, listings and evidence.
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn") for ch in value):
        raise ValueError("control, format, private-use or unassigned characters are refused")
    return value


DisplayName = Annotated[
    StrictStr,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
    AfterValidator(_printable),
]


class PartyCreate(BaseModel):
    """Register a party."""

    model_config = ConfigDict(extra="forbid")

    # Checked against the EORI rules by the service, which answers `invalid_eori`.
    id: StrictStr = Field(min_length=1, max_length=64, examples=["EU.EORI.NL123456789"])
    name: DisplayName
    roles: list[PartyRole] = Field(min_length=1, max_length=len(PartyRole))


class PartyView(BaseModel):
    """A party as the API shows it."""

    id: str
    name: str
    roles: list[str]
    status: str
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, party: Party) -> "PartyView":
        """The view of a stored party."""
        return cls(
            id=party.id,
            name=party.name,
            roles=list(party.roles),
            status=party.status,
            created_at=party.created_at,
            updated_at=party.updated_at,
        )


class PartyPage(BaseModel):
    """One page of parties in id order; pass `next_after` as `after` for the next page."""

    items: list[PartyView]
    next_after: str | None


class PartyFound(BaseModel):
    """A party as a search shows it: enough to name it in a release or a handover."""

    id: str = Field(examples=["EU.EORI.NL100000002"])
    name: str = Field(examples=["Haulier BV"])
    roles: list[str] = Field(examples=[["carrier"]])

    @classmethod
    def of(cls, party: Party) -> "PartyFound":
        """The search view of a stored party."""
        return cls(id=party.id, name=party.name, roles=list(party.roles))


class PartySearchResult(BaseModel):
    """What a party search found, names starting with the query first, then by name."""

    items: list[PartyFound]
    truncated: bool = Field(
        description="more parties matched than are answered: refine the query (there is no"
        " next page)"
    )
