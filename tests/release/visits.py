"""Helpers of the visit tests: sites made by port security, officers on teams, a scheduler
driven tick by tick with an explicit clock (never a sleep)."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlmodel import col, select

from services.identity.people.models import Person
from services.release.alerts.models import Alert
from services.release.auth import Caller
from services.release.deps import current_time
from services.release.settings import ReleaseSettings
from services.release.visits import repository, service
from services.release.visits.models import SiteKind, VisitSlot
from services.release.visits.scheduler import TickReport, VisitScheduler
from services.release.visits.schemas import SiteView
from services.release.visits.slots import slot_floor
from shared.auth import Principal
from shared.db import transaction
from tests.identity.factories import bearer, make_person, person_token
from tests.release.chains import ok
from tests.release.port import Port

SLOT = timedelta(seconds=300)
# 12 visits an hour in 5-minute slots: every slot has a visit (p = 1); 0: none.
EVERY_SLOT = 12.0


@dataclass
class Officer:
    """A signed-in officer of a party: his person and his Authorization header."""

    person: Person
    party_id: str
    headers: dict[str, str]

    @property
    def member(self) -> dict[str, str]:
        """As a team lists him."""
        return {"party_id": self.party_id, "person_id": str(self.person.id)}


async def officer(port: Port, name: str, role: str = "officer") -> Officer:
    """A fresh person of a port member (an officer by default), signed in."""
    party = port[name].party
    person = await make_person(port.identity, party, role)
    return Officer(person, party.id, bearer(await person_token(port.identity, person, party)))


def clock(port: Port) -> datetime:
    """The release service's clock, stopped at the real now by the first call (tokens minted
    now stay good), so that no slot boundary passes between a test's ticks and requests."""
    override = port.release.dependency_overrides.get(current_time)
    if override is None:
        moment = datetime.now(UTC)

        def override() -> datetime:
            return moment

        port.release.dependency_overrides[current_time] = override
    found: datetime = override()
    return found


def now_slot(port: Port) -> datetime:
    """The start of the slot the service's (stopped) clock is in."""
    return slot_floor(clock(port), 300)


async def make_site(
    port: Port,
    *,
    rate: float = EVERY_SLOT,
    visit_seconds: int = 600,
    team: list[Officer] | None = None,
    since: datetime | None = None,
    name: str = "Gate lanes 1-8",
) -> dict[str, Any]:
    """A site made by port security with a flat rate; made back then, with its first slot
    at `since`, if given (through the service, as port security's client made it)."""
    rates = [[rate] * 24 for _ in range(7)]
    body = {
        "name": name,
        "kind": "gate_lanes",
        "visit_seconds": visit_seconds,
        "rates": rates,
        "team": [member.member for member in team or []],
    }
    if since is None:
        site: dict[str, Any] = ok(
            await port.client.post("/v1/sites", json=body, headers=port["security"].headers), 201
        )
        return site
    caller = Caller(
        Principal(
            party_id=port["security"].id,
            party_roles=frozenset({"port_security"}),
            scopes=frozenset({"inspections"}),
        ),
        token="",
    )
    settings: ReleaseSettings = port.release.state.settings
    async with transaction(port.release.state.sessions) as session:
        made = await service.create_site(
            session,
            caller=caller,
            name=name,
            kind=SiteKind.gate_lanes,
            visit_seconds=visit_seconds,
            rates=rates,
            slot_seconds=settings.visit_slot_seconds,
            lead_seconds=settings.visit_lead_seconds,
            now=since - timedelta(seconds=settings.visit_lead_seconds),
        )
        if team:
            made = await service.set_team(
                session,
                caller=caller,
                site_id=made.id,
                members=[(member.party_id, member.person.id) for member in team],
                now=since,
            )
        members = list(await repository.team(session, made.id))
    assert made.slots_from == since
    return SiteView.of(made, members).model_dump(mode="json")


def scheduler(port: Port) -> VisitScheduler:
    """The release app's scheduler (its background loop is off in tests)."""
    found: VisitScheduler = port.release.state.visit_scheduler
    return found


async def run_until(port: Port, start: datetime, end: datetime) -> TickReport:
    """Tick every slot length from `start` to `end` (inclusive), as a running service would."""
    total = TickReport()
    moment = start
    while moment <= end:
        report = await scheduler(port).tick(moment)
        total.drawn += report.drawn
        total.taken += report.taken
        total.late += report.late
        total.unreported += report.unreported
        moment += SLOT
    return total


async def slots(port: Port) -> list[VisitSlot]:
    """Every slot claimed, by start."""
    async with transaction(port.release.state.sessions) as session:
        return list(
            (await session.exec(select(VisitSlot).order_by(col(VisitSlot.slot_start)))).all()
        )


async def alerts(port: Port, kind: str = "visit_missed") -> list[Alert]:
    """The alerts of a kind, oldest first."""
    async with transaction(port.release.state.sessions) as session:
        statement = select(Alert).where(col(Alert.kind) == kind).order_by(col(Alert.raised_at))
        return list((await session.exec(statement)).all())


async def dispatch(port: Port, site: dict[str, Any], headers: dict[str, str]) -> Any:
    """GET a site's dispatch."""
    return await port.client.get(f"/v1/sites/{site['site_id']}/dispatch", headers=headers)
