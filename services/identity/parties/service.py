"""Parties: registration, who may see one, the dispatchers' search, and the status changes
(revocation is final)."""

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import structlog
from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from services.identity.auth import is_admin, may_search_parties
from services.identity.credentials import service as credentials_service
from services.identity.parties import repository
from services.identity.parties.models import Party, PartyRole, PartyStatus
from shared.audit.events import append
from shared.auth import Principal
from shared.eori import COUNTRY_CODES, PREFIX, InvalidEori, parse_eori
from shared.problems import Conflict, Forbidden, InvalidInput, NotFound

logger = structlog.get_logger(__name__)

MAX_PAGE_SIZE = 200


def party_not_found() -> NotFound:
    """The one answer for a party that does not exist or that the caller may not see."""
    return NotFound("party_not_found", "no such party")


def _check_roles(roles: Sequence[str]) -> list[str]:
    if not roles:
        raise InvalidInput("roles_required", "a party has at least one role")
    unknown = sorted(set(roles) - set(PartyRole))
    if unknown:
        raise InvalidInput("unknown_role", f"unknown party roles: {unknown}")
    if len(set(roles)) != len(roles):
        raise InvalidInput("duplicate_roles", "each role may be named once")
    return [str(PartyRole(role)) for role in roles]


async def create_party(
    session: AsyncSession,
    *,
    party_id: str,
    name: str,
    roles: Sequence[str],
    actor: str,
    now: datetime,
) -> Party:
    """Register an active party under its EORI-based id."""
    try:
        parse_eori(party_id)
    except InvalidEori as exc:
        raise InvalidInput("invalid_eori", str(exc)) from exc
    name = name.strip()
    if not name:
        raise InvalidInput("name_required", "a party has a name")
    checked_roles = _check_roles(roles)
    if await repository.get(session, party_id) is not None:
        raise Conflict("party_exists", "a party with this id is already registered")
    party = Party(
        id=party_id,
        name=name,
        roles=checked_roles,
        status=PartyStatus.active,
        created_at=now,
        updated_at=now,
    )
    session.add(party)
    try:
        # Flushed here so that a concurrent registration of the same id is answered now,
        # not discovered when the request's transaction commits.
        await session.flush()
    except IntegrityError as exc:
        raise Conflict("party_exists", "a party with this id is already registered") from exc
    await append(
        session,
        "party.created",
        {"party_id": party.id, "name": party.name, "roles": checked_roles, "actor": actor},
    )
    return party


async def get_party(session: AsyncSession, *, party_id: str) -> Party:
    """A party by id, or 404."""
    party = await repository.get(session, party_id)
    if party is None:
        raise party_not_found()
    return party


async def get_visible_party(session: AsyncSession, *, party_id: str, principal: Principal) -> Party:
    """A party the caller may see (an admin sees all, others their own), or the same 404."""
    if not is_admin(principal) and principal.party_id != party_id:
        raise party_not_found()
    return await get_party(session, party_id=party_id)


async def list_parties(
    session: AsyncSession, *, after: str | None, limit: int
) -> tuple[list[Party], str | None]:
    """One page of parties in id order, and the cursor of the next page (None at the end)."""
    limit = max(1, min(limit, MAX_PAGE_SIZE))
    rows = list(await repository.page(session, after=after, limit=limit + 1))
    if len(rows) > limit:
        return rows[:limit], rows[limit - 1].id
    return rows, None


#: A search names at least this many characters: enough to look for a counterparty one knows,
#: too few to list the port a letter or two at a time.
MIN_QUERY_LENGTH = 3
MAX_QUERY_LENGTH = 100
#: At most this many parties per search, and no next page: refine the query instead.
MAX_SEARCH_RESULTS = 20
#: The parties a search finds: those a release or a handover names (the shipping line, its
#: first party, a forwarder or carrier handed to, the terminal). Customs, port security and
#: the port's administration are nobody's counterparty, and are not listed.
SEARCHABLE_ROLES: tuple[PartyRole, ...] = (
    PartyRole.shipping_line,
    PartyRole.forwarder,
    PartyRole.carrier,
    PartyRole.terminal,
)
# An EORI id typed whole or from its start: `EU.EORI.` (optional), the country code and at
# least three characters of the national number, so that `NL` alone lists nobody.
_ID_PREFIX = re.compile(r"(?:EU\.EORI\.)?([A-Z]{2})([A-Z0-9]{3,15})")


@dataclass(frozen=True)
class SearchResult:
    """The parties a search found, and whether more matched than were answered."""

    parties: list[Party]
    truncated: bool


def _search_query(query: str) -> str:
    text = query.strip()
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn") for ch in text):
        raise InvalidInput("invalid_query", "the query holds control or unassigned characters")
    if len(text) < MIN_QUERY_LENGTH:
        raise InvalidInput(
            "query_too_short", f"a search names at least {MIN_QUERY_LENGTH} characters"
        )
    if len(text) > MAX_QUERY_LENGTH:
        raise InvalidInput(
            "query_too_long", f"a search names at most {MAX_QUERY_LENGTH} characters"
        )
    return text


def _id_prefix(text: str) -> str | None:
    """The party id prefix the query spells, if it spells one (`NL123`, `eu.eori.nl123`)."""
    match = _ID_PREFIX.fullmatch(text.upper())
    if match is None or match.group(1) not in COUNTRY_CODES:
        return None
    return PREFIX + match.group(1) + match.group(2)


async def search_parties(
    session: AsyncSession, *, principal: Principal, query: str, role: PartyRole | None
) -> SearchResult:
    """Active counterparties by name (case-insensitive substring) or by id prefix, at most
    MAX_SEARCH_RESULTS: for the dispatchers of shipping lines, forwarders and carriers, and
    for administrators."""
    caller_party = await repository.get(session, principal.party_id)
    caller_roles = frozenset(caller_party.roles) if caller_party is not None else frozenset()
    if not may_search_parties(principal, caller_roles):
        logger.warning("party_search_refused", actor=principal.actor, caller=principal.party_id)
        if principal.person_id is None:
            raise Forbidden("person_required", "the party search is for signed-in dispatchers")
        raise Forbidden(
            "party_search_not_allowed",
            "the party search is for dispatchers of shipping lines, forwarders and carriers",
        )
    text = _search_query(query)
    if role is not None and role not in SEARCHABLE_ROLES:
        raise InvalidInput("role_not_searchable", f"parties with role {role} are not listed")
    rows = list(
        await repository.search_active(
            session,
            name_part=text,
            id_prefix=_id_prefix(text),
            roles=[role] if role is not None else SEARCHABLE_ROLES,
            limit=MAX_SEARCH_RESULTS + 1,
        )
    )
    # Identity keeps no read log in a table (its audit log, public, holds changes only): the
    # structured log line is the record of who looked for what (docs/identity.md).
    logger.info(
        "party_search",
        actor=principal.actor,
        caller=principal.party_id,
        query=text,
        role=role,
        results=min(len(rows), MAX_SEARCH_RESULTS),
    )
    return SearchResult(parties=rows[:MAX_SEARCH_RESULTS], truncated=len(rows) > MAX_SEARCH_RESULTS)


# action -> (statuses it may start from, status it leads to)
_TRANSITIONS: dict[str, tuple[frozenset[PartyStatus], PartyStatus]] = {
    "suspended": (frozenset({PartyStatus.active}), PartyStatus.suspended),
    "reinstated": (frozenset({PartyStatus.suspended}), PartyStatus.active),
    "revoked": (frozenset({PartyStatus.active, PartyStatus.suspended}), PartyStatus.revoked),
}


async def _change_status(
    session: AsyncSession, *, party_id: str, event: str, actor: str, now: datetime
) -> Party:
    allowed_from, new_status = _TRANSITIONS[event]
    party = await repository.lock(session, party_id)
    if party is None:
        raise party_not_found()
    old_status = party.status
    if old_status not in allowed_from:
        if old_status == PartyStatus.revoked:
            raise Conflict("party_revoked", "the party is revoked, and revocation is final")
        if new_status == PartyStatus.suspended:
            raise Conflict("party_already_suspended", "the party is already suspended")
        raise Conflict("party_not_suspended", "only a suspended party can be reinstated")
    party.status = new_status
    party.updated_at = now
    session.add(party)
    await credentials_service.set_party_status(
        session, party_id=party.id, status=new_status, now=now
    )
    await append(
        session,
        f"party.{event}",
        {"party_id": party.id, "from": old_status, "to": str(new_status), "actor": actor},
    )
    return party


async def suspend_party(
    session: AsyncSession, *, party_id: str, actor: str, now: datetime
) -> Party:
    """Suspend an active party: its people and clients are refused until reinstated."""
    return await _change_status(session, party_id=party_id, event="suspended", actor=actor, now=now)


async def reinstate_party(
    session: AsyncSession, *, party_id: str, actor: str, now: datetime
) -> Party:
    """Lift a party's suspension."""
    return await _change_status(
        session, party_id=party_id, event="reinstated", actor=actor, now=now
    )


async def revoke_party(session: AsyncSession, *, party_id: str, actor: str, now: datetime) -> Party:
    """Revoke a party for good: nothing brings it back."""
    return await _change_status(session, party_id=party_id, event="revoked", actor=actor, now=now)
