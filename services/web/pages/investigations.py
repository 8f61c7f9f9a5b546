"""The investigator's and the employer's pages: "who knew?" of a container (port security),
a party's exposure report (port security, and the party's own administrators), and the
yearly figures port security publishes (CSV, as each service makes them).

Both are the release service's answers shown as they are: it decides who may ask, records
every question in its access log, and asks the identity service for its half of the
exposure report with the same person's token.
"""

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request, Response

from services.web import core
from services.web.api import ApiProblem

router = APIRouter()


@router.get("/security/who-knew")
async def who_knew(request: Request) -> Response:
    """Everyone who read or was told of a container, oldest first, before and after its
    pickup."""
    _port_security(request)
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


@router.get("/security/figures")
async def figures(request: Request) -> Response:
    """The yearly figures' page: a year, and one CSV per service to download."""
    _port_security(request)
    this_year = datetime.now(UTC).year
    return core.render(
        request, "security/figures.html", years=list(range(this_year, this_year - 5, -1))
    )


@router.get("/security/figures/{service}/{year}.csv")
async def figures_csv(request: Request, service: str, year: int) -> Response:
    """One service's figures of a year, passed through as it made them."""
    _port_security(request)
    if service not in ("release", "identity"):
        raise ApiProblem(404, "not_found", "no such service", "web")
    answer = await core.api(request, service).call("GET", f"/v1/figures/{year}", accept="text/csv")
    return Response(
        answer.content,
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="ketenpas-{service}-figures-{year}.csv"'
        },
    )


def _port_security(request: Request) -> None:
    core.who_may(request, lambda person: person.has_party_role("port_security"), "port security")
