"""Yard entries: announced, corrected and withdrawn by the terminal; they give a line the right
to release, and taking the right away ends the line's open release."""

import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update
from sqlmodel import col
from typer.testing import CliRunner

from services.cli import app as cli
from services.release.yard import demo as yard_demo
from services.release.yard.models import YardEntry
from shared.db import transaction
from shared.models import utcnow
from tests.helpers import assert_problem
from tests.release.chains import accept, create_release, ok
from tests.release.port import (
    Port,
    access_log,
    announce,
    audit_types,
    in_days,
    new_container,
    release_body,
    unchanged,
)


async def release_as(port: Port, container: str, line: str = "line") -> Any:
    """A release of the container by a dispatcher of `line`."""
    return await port.client.post(
        "/v1/releases",
        json=release_body(port, container),
        headers=await port.person_headers(line),
    )


async def test_the_terminal_announces_a_container_for_a_line(port: Port) -> None:
    container = new_container()
    until = in_days(10)
    response = await port.client.post(
        "/v1/yard/entries",
        json={
            "container": container.lower(),
            "shipping_line": port["line"].id,
            "state": "expected",
            "valid_until": until.isoformat(),
        },
        headers=await port.person_headers("terminal", "operator"),
    )
    entry = ok(response, 201)
    assert response.headers["location"] == f"/v1/yard/entries/{entry['entry_id']}"
    assert (entry["container"], entry["terminal"], entry["shipping_line"], entry["state"]) == (
        container,
        port["terminal"].id,
        port["line"].id,
        "expected",
    )
    assert entry["withdrawn_at"] is None
    assert await audit_types(port.release) == ["yard.announced"]


async def test_a_container_has_one_live_entry_per_terminal(port: Port) -> None:
    container = new_container()
    await announce(port, container)
    async with unchanged(port.release):
        again = await port.client.post(
            "/v1/yard/entries",
            json={"container": container, "shipping_line": port["other_line"].id},
            headers=port["terminal"].headers,
        )
    assert_problem(again, 409, "yard_entry_exists")
    # Another terminal speaks only for its own yard: its entry gives no right at this one.
    await announce(port, container, line="other_line", terminal="other_terminal")
    assert_problem(await release_as(port, container, "other_line"), 403, "release_not_entitled")


async def test_bad_announcements_are_refused_and_change_nothing(port: Port) -> None:
    good: dict[str, Any] = {"container": new_container(), "shipping_line": port["line"].id}
    cases: list[tuple[dict[str, Any], str]] = [
        ({"container": "CSQU3054384"}, "invalid_container"),
        ({"shipping_line": "not a party"}, "invalid_party_id"),
        ({"shipping_line": port["terminal"].id}, "invalid_party_id"),
        ({"valid_until": "2020-01-01T00:00:00Z"}, "valid_until_past"),
        ({"valid_until": "2030-01-01T00:00:00"}, "invalid_request"),
        ({"state": "lost"}, "invalid_request"),
        ({"surprise": 1}, "invalid_request"),
    ]
    for change, code in cases:
        async with unchanged(port.release):
            response = await port.client.post(
                "/v1/yard/entries", json={**good, **change}, headers=port["terminal"].headers
            )
        assert_problem(response, 422, code)


async def test_naming_another_line_ends_the_old_lines_release(port: Port) -> None:
    chain = await create_release(port)
    await accept(port, chain, 0, "forwarder")
    entry = (await visible(port, "terminal", chain.container))[0]
    corrected = ok(
        await port.client.patch(
            f"/v1/yard/entries/{entry['entry_id']}",
            json={"shipping_line": port["other_line"].id},
            headers=port["terminal"].headers,
        )
    )
    assert corrected["shipping_line"] == port["other_line"].id
    view = ok(
        await port.client.get(f"/v1/releases/{chain.release_id}", headers=port["line"].headers)
    )
    assert (view["status"], view["links"]) == ("cancelled", [])
    assert_problem(await release_as(port, chain.container), 403, "release_not_entitled")
    ok(await release_as(port, chain.container, "other_line"), 201)
    types = await audit_types(port.release)
    assert types.index("release.cancelled") < types.index("yard.corrected")


async def test_ending_the_right_sooner_ends_a_release_that_outlives_it(port: Port) -> None:
    chain = await create_release(port, valid_until=in_days(5))
    entry = (await visible(port, "terminal", chain.container))[0]
    path = f"/v1/yard/entries/{entry['entry_id']}"
    ok(
        await port.client.patch(
            path, json={"valid_until": in_days(6).isoformat()}, headers=port["terminal"].headers
        )
    )
    view = ok(
        await port.client.get(f"/v1/releases/{chain.release_id}", headers=port["line"].headers)
    )
    assert view["status"] == "open"
    ok(
        await port.client.patch(
            path,
            json={"valid_until": in_days(4).isoformat(), "state": "in_yard"},
            headers=port["terminal"].headers,
        )
    )
    view = ok(
        await port.client.get(f"/v1/releases/{chain.release_id}", headers=port["line"].headers)
    )
    assert view["status"] == "cancelled"


async def test_a_withdrawn_entry_gives_no_right_and_ends_the_release(port: Port) -> None:
    chain = await create_release(port)
    entry = (await visible(port, "terminal", chain.container))[0]
    path = f"/v1/yard/entries/{entry['entry_id']}"
    withdrawn = ok(await port.client.delete(path, headers=port["terminal"].headers))
    assert withdrawn["withdrawn_at"] is not None
    view = ok(
        await port.client.get(f"/v1/releases/{chain.release_id}", headers=port["line"].headers)
    )
    assert view["status"] == "cancelled"
    assert_problem(await release_as(port, chain.container), 403, "release_not_entitled")
    assert_problem(
        await port.client.delete(path, headers=port["terminal"].headers),
        404,
        "yard_entry_not_found",
    )
    assert await visible(port, "line", chain.container) == []
    everything = ok(
        await port.client.get(
            f"/v1/yard/entries?container={chain.container}&include_withdrawn=true",
            headers=port["terminal"].headers,
        )
    )
    assert [e["entry_id"] for e in everything["entries"]] == [entry["entry_id"]]
    # Announced again, the right is back.
    await announce(port, chain.container)
    ok(await release_as(port, chain.container), 201)
    assert (await audit_types(port.release)).count("yard.withdrawn") == 1


async def test_an_entry_past_its_end_gives_no_right(port: Port) -> None:
    container = new_container()
    entry = await announce(port, container, valid_until=in_days(1))
    async with transaction(port.release.state.sessions) as session:
        await session.exec(
            update(YardEntry)
            .where(col(YardEntry.id) == uuid.UUID(entry["entry_id"]))
            .values(valid_until=utcnow() - timedelta(minutes=1))
        )
    assert_problem(await release_as(port, container), 403, "release_not_entitled")


async def visible(port: Port, name: str, container: str) -> list[dict[str, Any]]:
    """The live entries of a container a member's client sees."""
    response = await port.client.get(
        f"/v1/yard/entries?container={container}", headers=port[name].headers
    )
    entries: list[dict[str, Any]] = ok(response)["entries"]
    return entries


async def test_each_sees_only_the_entries_it_has_a_part_in(port: Port) -> None:
    container = new_container()
    await announce(port, container)
    seen = {
        name: [entry["shipping_line"] for entry in await visible(port, name, container)]
        for name in ("terminal", "line", "security", "customs")
    }
    assert seen == {name: [port["line"].id] for name in seen}
    for name in ("other_terminal", "other_line", "forwarder", "carrier"):
        assert await visible(port, name, container) == [], name
    driver = await port.driver("carrier")
    as_driver = await port.client.get(
        f"/v1/yard/entries?container={container}",
        headers=await port.driver_headers("carrier", driver),
    )
    assert ok(as_driver)["entries"] == []
    searches = [e for e in await access_log(port.release) if e.action == "yard.search"]
    assert {(e.party_id, e.outcome) for e in searches} >= {
        (port["terminal"].id, "shown"),
        (port["other_line"].id, "not_found"),
    }
    assert_problem(
        await port.client.get(
            "/v1/yard/entries?container=CSQU3054384", headers=port["line"].headers
        ),
        422,
        "invalid_container",
    )


async def test_the_release_right_is_bounded_by_the_setting(port: Port) -> None:
    container = new_container()
    await announce(port, container)
    body = release_body(port, container, valid_until=in_days(31))
    headers = await port.person_headers("line")
    async with unchanged(port.release):
        too_late = await port.client.post("/v1/releases", json=body, headers=headers)
    assert_problem(too_late, 422, "valid_until_too_late")
    body["valid_until"] = in_days(29).isoformat()
    ok(await port.client.post("/v1/releases", json=body, headers=headers), 201)


async def test_the_demo_yard_lets_the_demo_line_release_its_containers(port: Port) -> None:
    async with transaction(port.release.state.sessions) as session:
        entries = await yard_demo.seed(
            session,
            terminal_id=port["terminal"].id,
            shipping_line_id=port["line"].id,
            now=utcnow(),
        )
    assert [entry.container for entry in entries] == [c for c, _ in yard_demo.DEMO_YARD]
    container = yard_demo.DEMO_YARD[0][0]
    ok(await release_as(port, container), 201)
    assert_problem(await release_as(port, container, "other_line"), 403, "release_not_entitled")


def test_the_command_line_announces_corrects_and_withdraws(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KETENPAS_RELEASE_DATABASE_URL", f"sqlite:///{tmp_path / 'r'}.sqlite3")
    terminal, line, other = "EU.EORI.NL100000007", "EU.EORI.NL100000001", "EU.EORI.NL100000011"
    runner = CliRunner()
    assert runner.invoke(cli, ["db", "upgrade", "release"]).exit_code == 0
    announce_args = ["yard", "announce", "NZSU1000014", "--terminal", terminal]
    announced = runner.invoke(cli, [*announce_args, "--shipping-line", line])
    assert announced.exit_code == 0, announced.output
    entry_id = announced.output.split()[1]
    again = runner.invoke(cli, [*announce_args, "--shipping-line", other])
    assert again.exit_code == 1 and "yard_entry_exists" in again.output
    bad = runner.invoke(
        cli, ["yard", "announce", "NZSU1000015", "--terminal", terminal, "--shipping-line", line]
    )
    assert bad.exit_code == 1 and "invalid_container" in bad.output
    corrected = runner.invoke(
        cli, ["yard", "correct", entry_id, "--terminal", terminal, "--shipping-line", other]
    )
    assert corrected.exit_code == 0, corrected.output
    listed = runner.invoke(cli, ["yard", "list", "--terminal", terminal])
    assert entry_id in listed.output and other in listed.output
    elsewhere = runner.invoke(cli, ["yard", "withdraw", entry_id, "--terminal", line])
    assert elsewhere.exit_code == 1 and "yard_entry_not_found" in elsewhere.output
    withdrawn = runner.invoke(cli, ["yard", "withdraw", entry_id, "--terminal", terminal])
    assert withdrawn.exit_code == 0, withdrawn.output
    assert runner.invoke(cli, ["yard", "list", "--terminal", terminal]).output == ""
