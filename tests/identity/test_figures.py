"""Yearly figures of the identity service (docs/exposure.md): suspensions by reason and
the service's alerts, for port security to publish."""

import csv
import io
from datetime import UTC, datetime

import httpx
from fastapi import FastAPI

from services.identity.people import service as people
from services.identity.people.models import SuspensionReason
from shared.db import transaction
from shared.figures import COLUMNS
from shared.monitoring.service import raise_alert
from tests.helpers import assert_problem
from tests.identity.factories import bearer, client_token, make_party, make_person, person_token

App = tuple[FastAPI, httpx.AsyncClient]
YEAR = 2025


async def officer_headers(app: FastAPI) -> dict[str, str]:
    """A signed-in officer of port security."""
    party = await make_party(app, "port_security")
    officer = await make_person(app, party, "officer")
    return bearer(await person_token(app, officer, party))


async def suspend(app: FastAPI, reason: SuspensionReason, at: datetime) -> None:
    """A new driver of a new carrier, suspended for the reason at that time."""
    party = await make_party(app, "carrier")
    driver = await make_person(app, party, "driver")
    async with transaction(app.state.sessions) as session:
        await people.suspend_person(
            session, person_id=driver.id, actor="test", now=at, reason=reason
        )


async def test_port_security_counts_integrity_suspensions_and_alerts(identity_app: App) -> None:
    app, client = identity_app
    in_year = datetime(YEAR, 3, 1, tzinfo=UTC)
    for reason in (SuspensionReason.integrity, SuspensionReason.integrity, SuspensionReason.other):
        await suspend(app, reason, in_year)
    await suspend(app, SuspensionReason.integrity, datetime(YEAR + 1, 1, 1, tzinfo=UTC))
    async with transaction(app.state.sessions) as session:
        await raise_alert(
            session, kind="sign_in_failures", severity="medium", summary="s", facts={}, now=in_year
        )
    response = await client.get(f"/v1/figures/{YEAR}", headers=await officer_headers(app))
    assert response.status_code == 200, response.text
    table = list(csv.reader(io.StringIO(response.text)))
    assert tuple(table[0]) == COLUMNS
    assert [row[1:] for row in table[1:]] == [
        ["alerts", "sign_in_failures", "", "open", "", "1"],
        ["suspensions", "person", "", "", "integrity", "2"],
        ["suspensions", "person", "", "", "other", "1"],
    ]


async def test_port_securitys_client_reads_them_as_json(identity_app: App) -> None:
    app, client = identity_app
    party = await make_party(app, "port_security")
    headers = bearer(await client_token(app, party, ["alerts:read"]))
    response = await client.get(
        f"/v1/figures/{YEAR}", headers={**headers, "Accept": "application/json"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["service"] == "identity"
    assert response.json()["rows"] == []


async def test_a_party_administrator_may_not_read_them(identity_app: App) -> None:
    app, client = identity_app
    party = await make_party(app, "carrier")
    admin = await make_person(app, party, "admin")
    response = await client.get(
        f"/v1/figures/{YEAR}", headers=bearer(await person_token(app, admin, party))
    )
    assert_problem(response, 403, "role_required")
