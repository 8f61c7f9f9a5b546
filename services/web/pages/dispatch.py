"""The dispatcher's pages (shipping line, forwarder, carrier): incoming nominations, and
handing a release on: nominate the next party, subcontract, assign a screened driver,
withdraw.

Every link is signed by the identity service with the party's custodial key, naming the
person who asked (`POST /v1/sign`, called by the release service with his token): the front
end signs nothing and holds no key.
"""

import uuid
from typing import Any

from fastapi import APIRouter, Request, Response

from services.web import core
from services.web.api import ApiProblem
from services.web.pages.driver import WORK
from services.web.session import Who

router = APIRouter(prefix="/dispatch")

_DISPATCHING_ROLES = ("shipping_line", "forwarder", "carrier")
# The identity service's party search wants at least this many characters (docs/identity.md).
_SHORTEST_QUERY = 3


def _dispatcher(request: Request) -> Who:
    return core.who_may(
        request,
        lambda person: person.role != "driver" and person.has_party_role(*_DISPATCHING_ROLES),
        "dispatchers",
    )


@router.get("")
async def work(request: Request) -> Response:
    """The party's releases: what awaits an answer first, then the rest at a glance."""
    _dispatcher(request)
    state = request.query_params.get("state", "open")
    answer = await core.api(request, "release").get(
        WORK, limit=50, state=state if state in ("open", "all") else "open"
    )
    items = answer.get("releases", [])
    waiting = [item for item in items if item.get("awaiting_me")]
    others = [item for item in items if not item.get("awaiting_me")]
    return core.render(request, "dispatch/work.html", waiting=waiting, others=others, state=state)


@router.get("/releases/{release_id}")
async def release_page(request: Request, release_id: uuid.UUID) -> Response:
    """One release's chain, and what the party may do next with it."""
    person = _dispatcher(request)
    release_api = core.api(request, "release")
    release = await release_api.get(f"/v1/releases/{release_id}")
    chain = await release_api.get(f"/v1/releases/{release_id}/chain")
    links = chain.get("links", [])
    mine = person.party_id
    incoming = [
        link for link in links if link.get("to") == mine and link.get("status") == "pending"
    ]
    holder = chain.get("holder") == mine
    query = (request.query_params.get("q") or "").strip()
    found: list[dict[str, Any]] = []
    if holder and len(query) >= _SHORTEST_QUERY:
        answer = await core.api(request, "identity").get("/v1/directory/parties", q=query)
        found = [party for party in answer.get("items", []) if party.get("id") != mine]
    drivers: list[dict[str, Any]] = []
    if holder and person.has_party_role("carrier"):
        answer = await core.api(request, "identity").get(f"/v1/parties/{mine}/drivers")
        drivers = list(answer.get("items", []))
    return core.render(
        request,
        "dispatch/release.html",
        release=release,
        job=release,
        chain=chain,
        incoming=incoming,
        holder=holder,
        withdrawable=[link for link in links if _withdrawable(link, mine)],
        query=query,
        found=found,
        drivers=drivers,
    )


def _withdrawable(link: dict[str, Any], party: str) -> bool:
    return link.get("from") == party and link.get("status") in ("pending", "accepted")


async def _act(request: Request, release_id: uuid.UUID, path: str, body: Any = None) -> None:
    _dispatcher(request)
    await core.checked_form(request)
    await core.api(request, "release").post(f"/v1/releases/{release_id}/links{path}", body)


@router.post("/releases/{release_id}/links/{seq}/accept")
async def accept(request: Request, release_id: uuid.UUID, seq: int) -> Response:
    """Accept a release or handover to the party (signed custodially, naming the person)."""
    await _act(request, release_id, f"/{seq}/accept")
    core.session_of(request).notice = "accepted"
    return core.redirect(f"/dispatch/releases/{release_id}")


@router.post("/releases/{release_id}/links/{seq}/decline")
async def decline(request: Request, release_id: uuid.UUID, seq: int) -> Response:
    """Decline a release or handover to the party."""
    await _act(request, release_id, f"/{seq}/decline")
    core.session_of(request).notice = "declined"
    return core.redirect("/dispatch")


@router.post("/releases/{release_id}/links/{seq}/withdraw")
async def withdraw(request: Request, release_id: uuid.UUID, seq: int) -> Response:
    """Take back a link the party signed (while the chain allows it)."""
    await _act(request, release_id, f"/{seq}/withdraw")
    core.session_of(request).notice = "withdrawn"
    return core.redirect(f"/dispatch/releases/{release_id}")


@router.post("/releases/{release_id}/handover")
async def hand_over(request: Request, release_id: uuid.UUID) -> Response:
    """Nominate the next party (a forwarder or carrier), or subcontract to another carrier."""
    return await _new_link(request, release_id, kind="handover", field="to", notice="handed_over")


@router.post("/releases/{release_id}/assign")
async def assign(request: Request, release_id: uuid.UUID) -> Response:
    """Assign one of the party's screened drivers."""
    return await _new_link(
        request, release_id, kind="assignment", field="driver", notice="assigned"
    )


async def _new_link(
    request: Request, release_id: uuid.UUID, *, kind: str, field: str, notice: str
) -> Response:
    """The next link to the party or driver the form chose, signed custodially for the person."""
    _dispatcher(request)
    form = await core.checked_form(request)
    to = str(form.get(field) or "")
    if not to:
        raise ApiProblem(422, f"{field}_not_chosen", f"choose the {field} of the {kind}", "web")
    await core.api(request, "release").post(
        f"/v1/releases/{release_id}/links", {"kind": kind, "to": to}
    )
    core.session_of(request).notice = notice
    return core.redirect(f"/dispatch/releases/{release_id}")
