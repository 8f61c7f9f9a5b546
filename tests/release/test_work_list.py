"""The work list (`GET /v1/releases/work`): each caller's releases, newest first, with their
lights, their chain and the steps awaiting him; a page at a time; every listing logged."""

import base64
import re
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from services.release.deps import current_time
from shared.models import utcnow
from tests.helpers import assert_problem
from tests.release.chains import (
    accept,
    ask_gate,
    assign_pending,
    create_release,
    full_chain,
    gate_pass,
    hand_over,
    ok,
)
from tests.release.port import Port, access_log, in_days
from tests.release.test_gate_statements import counted

WORK = "/v1/releases/work"


async def work(port: Port, headers: dict[str, str], **params: Any) -> dict[str, Any]:
    """One page of the caller's work list."""
    return ok(await port.client.get(WORK, params=params, headers=headers))


def ids(page: dict[str, Any]) -> list[str]:
    return [item["release_id"] for item in page["releases"]]


async def test_a_forwarder_lists_what_it_received_newest_first_with_what_awaits_it(
    port: Port,
) -> None:
    older = await create_release(port)
    newer = await create_release(port)
    await create_release(port, to="forwarder2")
    page = await work(port, port["forwarder"].headers)
    assert ids(page) == [str(newer.release_id), str(older.release_id)]
    assert page["next"] is None
    item = page["releases"][0]
    assert set(item) == {
        "release_id",
        "container",
        "terminal",
        "status",
        "valid_until",
        "created_at",
        "lights",
        "chain",
        "awaiting_me",
        "gate",
    }
    assert item["gate"] is None  # only a driver is told the gate's answer to him
    assert (item["container"], item["terminal"], item["status"]) == (
        newer.container,
        port["terminal"].id,
        "open",
    )
    assert item["lights"] == {"commercial": "green", "customs": "green", "terminal": "green"}
    assert item["chain"] == [
        {
            "seq": 0,
            "kind": "release",
            "from": port["line"].id,
            "to": port["forwarder"].id,
            "status": "pending",
        }
    ]
    assert item["awaiting_me"] == [0]
    # Only who may answer the step is awaited: not a person of the party in another role.
    operator = await work(port, await port.person_headers("forwarder", "operator"))
    assert ids(operator) == ids(page) and operator["releases"][0]["awaiting_me"] == []
    # The line made it: on its list, but nothing awaits the line.
    line = await work(port, await port.person_headers("line"))
    assert str(newer.release_id) in ids(line)
    assert all(entry["awaiting_me"] == [] for entry in line["releases"])


async def test_a_step_accepted_no_longer_awaits_and_the_next_receiver_sees_his(
    port: Port,
) -> None:
    chain = await create_release(port)
    await accept(port, chain, 0, "forwarder")
    seq = await hand_over(port, chain, "forwarder", "carrier")
    forwarder = await work(port, await port.person_headers("forwarder"))
    carrier = await work(port, await port.person_headers("carrier"))
    assert forwarder["releases"][0]["awaiting_me"] == []
    assert [(link["seq"], link["status"]) for link in carrier["releases"][0]["chain"]] == [
        (0, "accepted"),
        (1, "pending"),
    ]
    assert carrier["releases"][0]["awaiting_me"] == [seq]


async def test_a_driver_lists_his_assignment_and_may_accept_it(port: Port) -> None:
    chain = await create_release(port, to="carrier")
    await accept(port, chain, 0, "carrier")
    driver = await port.driver("carrier")
    seq = await assign_pending(port, chain, "carrier", driver)
    headers = await port.driver_headers("carrier", driver)
    page = await work(port, headers)
    assert ids(page) == [str(chain.release_id)]
    (item,) = page["releases"]
    # As a read shows him: his own assignment, not who passed the release on before him.
    assert item["chain"] == [
        {
            "seq": seq,
            "kind": "assignment",
            "from": port["carrier"].id,
            "to": str(driver.id),
            "status": "pending",
        }
    ]
    assert item["awaiting_me"] == [seq]
    # The carrier's dispatcher sees the assignment, but it awaits the driver, not him.
    carrier = await work(port, await port.person_headers("carrier"))
    assert carrier["releases"][0]["awaiting_me"] == []


async def test_a_driver_is_told_the_gates_answer_to_him_once_it_is_given(port: Port) -> None:
    chain = await full_chain(port, path=("forwarder", "carrier"))
    assert chain.driver is not None
    driver_headers = await port.driver_headers("carrier", chain.driver)
    before = await work(port, driver_headers)
    assert before["releases"][0]["gate"] is None
    decision = await ask_gate(
        port, chain.container, gate_pass=await gate_pass(port, "carrier", chain.driver)
    )
    after = (await work(port, driver_headers))["releases"][0]
    assert after["gate"]["decision"] == decision["decision"] == "release"
    # His carrier's dispatcher is not told the gate's answer on his list.
    carrier_item = (await work(port, await port.person_headers("carrier")))["releases"][0]
    assert carrier_item["gate"] is None


async def test_a_terminal_lists_the_releases_at_its_terminal(port: Port) -> None:
    here = await create_release(port)
    there = await create_release(port, terminal="other_terminal")
    mine = await work(port, await port.person_headers("terminal", "operator"))
    theirs = await work(port, port["other_terminal"].headers)
    assert ids(mine) == [str(here.release_id)]
    assert ids(theirs) == [str(there.release_id)]
    assert mine["releases"][0]["awaiting_me"] == []


@pytest.mark.parametrize("overseer", ["customs", "security"])
async def test_customs_and_port_security_are_refused_a_list_of_the_whole_port(
    port: Port, overseer: str
) -> None:
    await create_release(port)
    for headers in (port[overseer].headers, await port.person_headers(overseer, "officer")):
        response = await port.client.get(WORK, headers=headers)
        assert_problem(response, 403, "overseer_not_allowed")


async def test_state_all_adds_what_ended_with_its_lights(port: Port) -> None:
    cancelled = await create_release(port)
    held = await create_release(port)
    ok(
        await port.client.post(
            f"/v1/releases/{cancelled.release_id}/cancel", headers=port["line"].headers
        )
    )
    ok(
        await port.client.put(
            f"/v1/releases/{held.release_id}/holds/customs", headers=port["customs"].headers
        )
    )
    for name in ("line", "forwarder"):
        open_page = await work(port, port[name].headers)
        assert ids(open_page) == [str(held.release_id)], name
        assert open_page["releases"][0]["lights"] == {
            "commercial": "green",
            "customs": "red",
            "terminal": "green",
        }
    every = await work(port, port["line"].headers, state="all")
    assert ids(every) == [str(held.release_id), str(cancelled.release_id)]
    ended = every["releases"][1]
    assert (ended["status"], ended["lights"]["commercial"]) == ("cancelled", "red")
    # Cancelling withdrew its links: the chain a read shows is empty, nothing awaits anyone.
    assert (ended["chain"], ended["awaiting_me"]) == ([], [])
    # The forwarder's link went with them: like a read of it (404), the list leaves it out.
    assert ids(await work(port, port["forwarder"].headers, state="all")) == [str(held.release_id)]


async def test_a_release_past_its_validity_is_off_the_open_list_and_awaits_nobody(
    port: Port,
) -> None:
    chain = await create_release(port, valid_until=in_days(1 / 1440))
    assert (await work(port, port["forwarder"].headers))["releases"][0]["awaiting_me"] == [0]
    later = utcnow() + timedelta(minutes=2)
    port.release.dependency_overrides[current_time] = lambda: later
    assert ids(await work(port, port["forwarder"].headers)) == []
    (item,) = (await work(port, port["forwarder"].headers, state="all"))["releases"]
    assert (item["release_id"], item["status"]) == (str(chain.release_id), "expired")
    assert item["lights"]["commercial"] == "red"
    assert [link["status"] for link in item["chain"]] == ["pending"] and item["awaiting_me"] == []


async def test_pages_neither_repeat_nor_skip_while_releases_are_made(port: Port) -> None:
    made = [await create_release(port) for _ in range(5)]
    newest_first = [str(chain.release_id) for chain in reversed(made)]
    first = await work(port, port["forwarder"].headers, limit=2)
    assert ids(first) == newest_first[:2] and first["next"]
    await create_release(port)  # newer than the first page: not on the pages that follow
    second = await work(port, port["forwarder"].headers, limit=2, cursor=first["next"])
    third = await work(port, port["forwarder"].headers, limit=2, cursor=second["next"])
    assert ids(second) == newest_first[2:4]
    assert ids(third) == newest_first[4:] and third["next"] is None
    again = await work(port, port["forwarder"].headers, limit=2, cursor=first["next"])
    assert again == second


async def test_releases_made_at_one_instant_page_by_their_id(port: Port) -> None:
    instant = (utcnow() + timedelta(minutes=1)).replace(microsecond=250_000)
    port.release.dependency_overrides[current_time] = lambda: instant
    made = sorted([str((await create_release(port)).release_id) for _ in range(3)], reverse=True)
    seen: list[str] = []
    params: dict[str, Any] = {"limit": 1}
    while True:
        page = await work(port, port["forwarder"].headers, **params)
        assert [item["created_at"] for item in page["releases"]] == [
            instant.isoformat().replace("+00:00", "Z")
        ]
        seen += ids(page)
        if page["next"] is None:
            break
        params["cursor"] = page["next"]
    assert seen == made


def cursor_of(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).rstrip(b"=").decode()


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"cursor": "not a cursor"}, "cursor_invalid"),
        ({"cursor": cursor_of(f"2026-01-01T00:00:00|{uuid.uuid4()}")}, "cursor_invalid"),
        ({"cursor": cursor_of(f"0001-01-01T00:00:00+01:00|{uuid.uuid4()}")}, "cursor_invalid"),
        ({"cursor": cursor_of(f"9999-12-31T23:59:59-01:00|{uuid.uuid4()}")}, "cursor_invalid"),
        ({"cursor": "x" * 201}, "invalid_request"),
        ({"state": "closed"}, "invalid_request"),
        ({"limit": 0}, "invalid_request"),
        ({"limit": 101}, "invalid_request"),
        ({"limit": "many"}, "invalid_request"),
    ],
)
async def test_bad_input_is_a_422_problem(port: Port, params: dict[str, Any], code: str) -> None:
    response = await port.client.get(WORK, params=params, headers=port["forwarder"].headers)
    assert_problem(response, 422, code)


async def test_without_a_token_or_the_read_scope_it_is_refused(port: Port) -> None:
    assert_problem(await port.client.get(WORK), 401, "token_missing")


async def test_the_work_list_is_not_taken_for_a_release_id(port: Port) -> None:
    chain = await create_release(port)
    assert ids(await work(port, port["forwarder"].headers)) == [str(chain.release_id)]
    one = ok(
        await port.client.get(f"/v1/releases/{chain.release_id}", headers=port["forwarder"].headers)
    )
    assert one["release_id"] == str(chain.release_id)
    statuses = port.release.openapi()["paths"][WORK]["get"]["responses"]
    assert {int(s) for s in statuses if s[0] in "45"} == {401, 403, 422, 503}


async def test_each_release_listed_is_a_logged_read(port: Port) -> None:
    chains = [await create_release(port) for _ in range(2)]
    dispatcher = await port.person_headers("forwarder")
    await work(port, dispatcher)
    await work(port, port["other_carrier"].headers)
    log = [e for e in await access_log(port.release) if e.action == "release.work"]
    person = port["forwarder"].people["dispatcher"].id
    assert sorted((e.release_id, e.container, e.outcome) for e in log if e.person_id == person) == (
        sorted((c.release_id, c.container, "shown") for c in chains)
    )
    assert [(e.party_id, e.outcome, e.results) for e in log if e.person_id is None] == [
        (port["other_carrier"].id, "not_found", 0)
    ]


async def test_a_page_reads_in_two_statements_however_long(port: Port) -> None:
    for _ in range(5):
        chain = await create_release(port)
        await accept(port, chain, 0, "forwarder")
        await hand_over(port, chain, "forwarder", "carrier")
    for limit in (1, 5):
        with counted(port) as statements:
            page = await work(port, port["forwarder"].headers, limit=limit)
        assert len(page["releases"]) == limit
        # The releases with their holds, then their links; no statement per release.
        assert [s for s in statements if s == "SELECT"] == ["SELECT", "SELECT"], statements
        # The access log's entries, in one transaction: one INSERT on PostgreSQL; SQLite
        # writes a row per statement (its RETURNING keeps no order for the ORM to batch on).
        assert len([s for s in statements if s == "INSERT"]) in (1, limit), statements


ROOT = Path(__file__).resolve().parents[2]


def test_the_codes_in_docs_are_those_the_work_list_answers() -> None:
    page = (ROOT / "docs" / "release.md").read_text(encoding="utf-8")
    section = page.split("\n## The work list\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if re.match(r"^\| `[a-z_]+`", line)]
    named = {code for row in rows for code in re.findall(r"`([a-z]+(?:_[a-z]+)+)`", row)}
    source = "\n".join(
        path.read_text(encoding="utf-8")
        for folder in ("services/release", "shared")
        for path in (ROOT / folder).rglob("*.py")
    )
    assert {"overseer_not_allowed", "cursor_invalid", "invalid_request"} <= named
    assert sorted(code for code in named if f'"{code}"' not in source) == []
