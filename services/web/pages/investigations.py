"""The investigator's and the employer's pages: "who knew?" of a container (port security)
and a party's exposure report (port security, and the party's own administrators).

Both are the release service's answers shown as they are: it decides who may ask, records
every question in its access log, and asks the identity service for its half of the
exposure report with the same person's token.
"""

from typing import Any

from fastapi import APIRouter, Request, Response

from services.web import core

router = APIRouter()


@router.get("/security/who-knew")
async def who_knew(request: Request) -> Response:
    """Everyone who read or was told of a container, oldest first, before and after its
    pickup."""
    core.who_may(request, lambda person: person.has_party_role("port_security"), "port security")
    container = (request.query_params.get("container") or "").strip().upper().replace(" ", "")
    answer: dict[str, Any] | None = None
    if container:
        answer = await core.api(request, "release").get(
            f"/v1/investigations/containers/{container}/who-knew", limit=500
        )
    return core.render(request, "security/who_knew.html", container=container, answer=answer)


@router.get("/exposure")
async def exposure(request: Request) -> Response:
    """A party's exposure: what each role may see and do, what each person looked up in
    the last 30 days, who holds keys and custodial signing rights."""
    person = core.who_may(
        request,
        lambda who: who.has_party_role("port_security") or who.role == "admin",
        "port security and administrators",
    )
    asked = (request.query_params.get("party") or "").strip()
    party = asked if person.has_party_role("port_security") and asked else person.party_id
    report = await core.api(request, "release").get(f"/v1/parties/{party}/exposure")
    return core.render(request, "exposure.html", report=report, party=party)
