"""Yearly figures of the release service (docs/exposure.md): counts port security can
publish, as CSV a spreadsheet opens safely, or as JSON."""

import csv
import io
import uuid
from datetime import UTC, datetime

import pytest

from services.release.inspections.models import Draw, Inspection
from shared.db import transaction
from shared.figures import COLUMNS, prefers_json
from shared.monitoring.models import AlertOutcome
from shared.monitoring.service import close, raise_alert
from tests.release.port import Port, access_log, new_container

YEAR = 2025
IN_YEAR = datetime(YEAR, 6, 1, 12, tzinfo=UTC)
LAST_YEAR = datetime(YEAR - 1, 12, 31, 23, 59, tzinfo=UTC)
#: An alert kind a spreadsheet would run as a formula, with a comma and a quote to escape.
FORMULA_KIND = '=SUM(1,2)"x'


async def seed(port: Port) -> None:
    """Alerts, inspections and draws of the year and of the year before."""
    async with transaction(port.release.state.sessions) as session:
        alerts = []
        for kind, at in [("burst", IN_YEAR), ("burst", IN_YEAR), (FORMULA_KIND, IN_YEAR)]:
            alerts.append(
                await raise_alert(
                    session, kind=kind, severity="high", summary="s", facts={}, now=at
                )
            )
        await raise_alert(
            session, kind="burst", severity="low", summary="s", facts={}, now=LAST_YEAR
        )
        first = alerts[0]
        assert first is not None
        await close(
            session,
            alert_id=first,
            actor="person:test",
            outcome=AlertOutcome.confirmed,
            reason="seen on camera",
            now=IN_YEAR,
        )
        for terminal, status, at in [
            ("EU.EORI.NL1", "clear", IN_YEAR),
            ("EU.EORI.NL1", "finding", IN_YEAR),
            ("EU.EORI.NL1", "seizure", IN_YEAR),
            ("EU.EORI.NL1", "clear", IN_YEAR),
            ("EU.EORI.NL2", "open", IN_YEAR),
            ("EU.EORI.NL2", "seizure", LAST_YEAR),
        ]:
            session.add(
                Inspection(
                    container=new_container(),
                    terminal_id=terminal,
                    release_id=uuid.uuid4(),
                    decision_id=uuid.uuid4(),
                    draw_id=uuid.uuid4(),
                    status=status,
                    requested_by="client:x",
                    opened_at=at,
                )
            )
        for selected, at in [
            (False, IN_YEAR),
            (False, IN_YEAR),
            (True, IN_YEAR),
            (True, LAST_YEAR),
        ]:
            session.add(
                Draw(
                    purpose="container",
                    alpha="{}",
                    key_id="k",
                    pi=b"p",
                    beta=b"b",
                    u=0.5,
                    probability=0.1,
                    selected=selected,
                    drawn_at=at,
                    event_id=uuid.uuid4(),
                )
            )


async def test_port_security_downloads_the_years_figures_as_csv(port: Port) -> None:
    await seed(port)
    response = await port.client.get(f"/v1/figures/{YEAR}", headers=port["security"].headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert f"ketenpas-release-figures-{YEAR}.csv" in response.headers["content-disposition"]
    table = list(csv.reader(io.StringIO(response.text)))
    assert tuple(table[0]) == COLUMNS
    rows = {tuple(row[1:6]): int(row[6]) for row in table[1:]}
    assert all(row[0] == str(YEAR) for row in table[1:])
    assert rows == {
        ("alerts", "burst", "", "closed", "confirmed"): 1,
        ("alerts", "burst", "", "open", ""): 1,
        # The formula is written as text ('...), its comma and quote escaped by the csv module.
        ("alerts", "'" + FORMULA_KIND, "", "open", ""): 1,
        ("inspections", "", "EU.EORI.NL1", "", "clear"): 2,
        ("inspections", "", "EU.EORI.NL1", "", "finding"): 1,
        ("inspections", "", "EU.EORI.NL1", "", "seizure"): 1,
        ("inspections", "", "EU.EORI.NL2", "", "open"): 1,
        ("container_draws", "", "", "", "not_selected"): 2,
        ("container_draws", "", "", "", "selected"): 1,
    }
    entry = (await access_log(port.release))[-1]
    assert (entry.action, entry.outcome, entry.results) == ("figures.read", "ok", len(rows))


async def test_json_is_answered_when_asked_for(port: Port) -> None:
    await seed(port)
    response = await port.client.get(
        f"/v1/figures/{YEAR}",
        headers={**port["security"].headers, "Accept": "application/json"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["service"], body["year"]) == ("release", YEAR)
    assert body["since"].startswith(f"{YEAR}-01-01T00:00:00")
    kinds = {row["kind"] for row in body["rows"] if row["figure"] == "alerts"}
    assert kinds == {"burst", FORMULA_KIND}  # JSON is not a spreadsheet: no prefix


async def test_a_year_without_events_has_only_the_header(port: Port) -> None:
    response = await port.client.get("/v1/figures/2031", headers=port["security"].headers)
    assert response.status_code == 200
    assert response.text.splitlines() == [",".join(COLUMNS)]


async def test_a_year_out_of_range_is_refused(port: Port) -> None:
    response = await port.client.get("/v1/figures/99999", headers=port["security"].headers)
    assert response.status_code == 422


@pytest.mark.parametrize(
    ("accept", "json"),
    [
        ("", False),
        ("*/*", False),
        ("text/csv", False),
        ("application/json", True),
        ("text/csv;q=0.5, application/json", True),
        ("application/json;q=0.4, text/csv;q=0.9", False),
        ("application/json;q=0", False),
        ("application/json;q=oops", False),
        ("APPLICATION/JSON", True),
    ],
)
def test_json_only_when_the_client_prefers_it(accept: str, json: bool) -> None:
    assert prefers_json(accept) is json
