"""The exposure report (docs/exposure.md): what each role of a party may do here, read off
the routes' own guards, and what each of its people and its client looked up."""

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.release.access.models import AccessLogEntry
from services.release.exposure import rights
from services.release.exposure.service import API_CLIENT
from shared.db import transaction
from tests.helpers import assert_problem
from tests.release.port import Port, access_log, new_container


async def log_reads(port: Port, rows: list[dict[str, Any]]) -> None:
    """Access-log rows as the service writes them (its reads are tested elsewhere)."""
    async with transaction(port.release.state.sessions) as session:
        for row in rows:
            session.add(AccessLogEntry(action="release.read", results=1, **row))


def role(report: dict[str, Any], name: str) -> dict[str, Any]:
    """One role's entry of a report."""
    found: dict[str, Any] = next(r for r in report["roles"] if r["role"] == name)
    return found


def passes(report: dict[str, Any], name: str, method: str, path: str) -> bool:
    """Whether the report says the role passes this route."""
    return any((r["method"], r["path"]) == (method, path) for r in role(report, name)["rights"])


async def carrier_staff(port: Port) -> tuple[uuid.UUID, uuid.UUID]:
    """The carrier's dispatcher and a driver with a device key; their ids."""
    await port.person_headers("carrier", "dispatcher")
    driver = await port.driver("carrier")
    return port["carrier"].people["dispatcher"].id, driver.id


async def test_port_security_sees_each_roles_rights_and_signing(port: Port) -> None:
    dispatcher_id, driver_id = await carrier_staff(port)
    response = await port.client.get(
        f"/v1/parties/{port['carrier'].id}/exposure", headers=port["security"].headers
    )
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["party_id"] == port["carrier"].id
    assert report["party_roles"] == ["carrier"]
    links = "/v1/releases/{release_id}/links"
    accept = "/v1/releases/{release_id}/links/{seq}/accept"
    assert passes(report, "dispatcher", "POST", links)
    assert not passes(report, "driver", "POST", links)
    assert passes(report, API_CLIENT, "POST", links)
    assert not passes(report, "operator", "POST", "/v1/gate/decisions")
    driver_accepts = next(r for r in role(report, "driver")["rights"] if r["path"] == accept)
    assert driver_accepts["reach"] == "his_own_assignments"
    reads = next(
        r
        for r in role(report, "dispatcher")["rights"]
        if (r["method"], r["path"]) == ("GET", "/v1/releases/{release_id}")
    )
    assert reads["reach"] == "its_chains"
    assert role(report, "dispatcher")["custodial_signing"] == {
        "link_kinds": ["assignment", "handover"],
        "accepts": True,
    }
    assert role(report, "driver")["custodial_signing"] == {"link_kinds": [], "accepts": False}
    assert role(report, "dispatcher")["active"] == 1
    people = {p["person_id"]: p for p in report["people"]}
    assert people[str(driver_id)]["active_device_keys"] == 1
    assert people[str(driver_id)]["custodial_signing"] is False
    assert people[str(dispatcher_id)]["custodial_signing"] is True
    kinds = sorted(k["kind"] for k in report["keys"])
    assert kinds == ["custodial", "device", "own"]
    assert [c["kid"] for c in report["api_clients"]] == [port["carrier"].kid]
    assert "chain:write" in report["api_clients"][0]["scopes"]


async def test_look_ups_are_counted_per_person_and_client_within_the_period(port: Port) -> None:
    dispatcher_id, driver_id = await carrier_staff(port)
    carrier = port["carrier"].id
    now = datetime.now(UTC)
    a, b = new_container(), new_container()
    dispatcher = {
        "actor": f"person:{dispatcher_id}",
        "party_id": carrier,
        "person_id": dispatcher_id,
    }
    await log_reads(
        port,
        [
            {**dispatcher, "at": now, "container": a, "outcome": "shown"},
            {**dispatcher, "at": now, "container": a, "outcome": "shown"},
            {**dispatcher, "at": now, "container": b, "outcome": "shown"},
            {**dispatcher, "at": now, "outcome": "not_found"},
            # Before the period: not counted.
            {
                **dispatcher,
                "at": now - timedelta(days=40),
                "container": new_container(),
                "outcome": "shown",
            },
            {"actor": f"client:{carrier}", "party_id": carrier, "at": now, "outcome": "ok"},
            # Another party's reads are not the carrier's.
            {
                "actor": f"client:{port['sub'].id}",
                "party_id": port["sub"].id,
                "at": now,
                "container": a,
                "outcome": "shown",
            },
        ],
    )
    response = await port.client.get(
        f"/v1/parties/{carrier}/exposure", headers=port["security"].headers
    )
    assert response.status_code == 200, response.text
    report = response.json()
    people = {p["person_id"]: p for p in report["people"]}
    counted = people[str(dispatcher_id)]["lookups"]
    assert (counted["reads"], counted["refused"], counted["containers"]) == (3, 1, 2)
    assert people[str(driver_id)]["lookups"] == {
        "reads": 0,
        "refused": 0,
        "containers": 0,
        "first_at": None,
        "last_at": None,
    }
    assert [(o["actor"], o["lookups"]["reads"]) for o in report["other_lookups"]] == [
        (f"client:{carrier}", 1)
    ]
    # The older read is counted when the period reaches back to it.
    since = (now - timedelta(days=41)).isoformat()
    longer = await port.client.get(
        f"/v1/parties/{carrier}/exposure",
        params={"since": since},
        headers=port["security"].headers,
    )
    longer_people = {p["person_id"]: p for p in longer.json()["people"]}
    assert longer_people[str(dispatcher_id)]["lookups"]["containers"] == 3


async def test_the_partys_own_admin_reads_its_report_and_the_read_is_logged(port: Port) -> None:
    headers = await port.person_headers("carrier", "admin")
    admin_id = port["carrier"].people["admin"].id
    response = await port.client.get(f"/v1/parties/{port['carrier'].id}/exposure", headers=headers)
    assert response.status_code == 200, response.text
    entry = (await access_log(port.release))[-1]
    assert (entry.action, entry.outcome, entry.person_id) == ("exposure.read", "shown", admin_id)


@pytest.mark.parametrize(
    ("period", "code"),
    [
        ({"since": "2026-02-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"}, "period_invalid"),
        ({"since": "2024-01-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"}, "period_too_long"),
    ],
)
async def test_a_bad_period_is_refused(port: Port, period: dict[str, str], code: str) -> None:
    response = await port.client.get(
        f"/v1/parties/{port['carrier'].id}/exposure",
        params=period,
        headers=port["security"].headers,
    )
    assert_problem(response, 422, code)


async def test_an_unknown_party_is_not_found_for_port_security(port: Port) -> None:
    response = await port.client.get(
        "/v1/parties/EU.EORI.NL000000001/exposure", headers=port["security"].headers
    )
    assert_problem(response, 404, "party_not_found")


def _example(path: str, party_id: str) -> str:
    values = {"seq": "1", "kind": "customs", "party_id": party_id, "terminal_id": party_id}
    return re.sub(
        r"\{(\w+)\}", lambda m: values.get(m.group(1), "00000000-0000-0000-0000-000000000001"), path
    )


async def test_the_reported_rights_are_what_the_routes_enforce(port: Port) -> None:
    """Every guarded route, asked over HTTP by a carrier's driver, dispatcher and client, a
    terminal's operator and client, and port security's officer and client: refused for its
    role or scope exactly when the report says the role does not pass it."""
    driver = await port.driver("carrier")
    callers = {
        ("carrier", "driver"): await port.driver_headers("carrier", driver),
        ("carrier", "dispatcher"): await port.person_headers("carrier", "dispatcher"),
        ("carrier", API_CLIENT): port["carrier"].headers,
        ("terminal", "operator"): await port.person_headers("terminal", "operator"),
        ("terminal", API_CLIENT): port["terminal"].headers,
        ("security", "officer"): await port.person_headers("security", "officer"),
        ("security", API_CLIENT): port["security"].headers,
    }
    reports = {}
    for member in ("carrier", "terminal", "security"):
        response = await port.client.get(
            f"/v1/parties/{port[member].id}/exposure", headers=port["security"].headers
        )
        reports[member] = response.json()
    guarded = [r for r in rights.caller_routes(port.release) if r.guards]
    assert len(guarded) > 30
    for (member, name), headers in callers.items():
        for route in guarded:
            reported = passes(reports[member], name, route.method, route.path)
            if reported and route.path.endswith("/stream"):
                continue  # an endless body: the refusals are asked, not the stream
            response = await port.client.request(
                route.method, _example(route.path, port[member].id), headers=headers, json={}
            )
            code = response.json().get("code") if response.status_code >= 400 else None
            refused = code in {"role_required", "scope_required", "person_required"}
            if reported:
                assert not refused, (member, name, route.method, route.path, response.text)
            else:
                # A route that loads its object before its guard answers like a missing one.
                refused = refused or (response.status_code == 404 and "{" in route.path)
                assert refused, (member, name, route.method, route.path, response.text)


def test_every_route_that_decides_in_its_handler_has_a_rule(port: Port) -> None:
    unguarded = {(r.method, r.path) for r in rights.caller_routes(port.release) if not r.guards}
    assert unguarded == set(rights.RELATION_RULES)
