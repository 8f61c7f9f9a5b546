"""Threat: a bribed dispatcher or driver uses the work list to learn which containers, and
whose chains, he has no part in.

`GET /v1/releases/work` lists the releases the caller may read, and no more of each than a
read shows him: another party's releases are never there, a driver sees only the live
assignments to him (not his colleagues', not one withdrawn), a party whose step was declined
or withdrawn drops off the list as it drops out of the read (404), and a cursor, being only
a position, carries no right.
"""

from typing import Any

from tests.release.chains import (
    Chain,
    accept,
    assign,
    assign_pending,
    create_release,
    full_chain,
    hand_over,
    ok,
)
from tests.release.port import Port

WORK = "/v1/releases/work"
STATES = ("open", "all")


async def listed(port: Port, headers: dict[str, str], state: str = "open") -> list[dict[str, Any]]:
    """The items of the caller's whole work list (every page)."""
    items: list[dict[str, Any]] = []
    params: dict[str, Any] = {"state": state, "limit": 2}
    while True:
        page = ok(await port.client.get(WORK, params=params, headers=headers))
        items += page["releases"]
        if page["next"] is None:
            return items
        params["cursor"] = page["next"]


async def listed_ids(port: Port, headers: dict[str, str], state: str = "open") -> set[str]:
    return {item["release_id"] for item in await listed(port, headers, state)}


async def withdraw(port: Port, chain: Chain, seq: int, name: str) -> None:
    ok(
        await port.client.post(
            f"/v1/releases/{chain.release_id}/links/{seq}/withdraw", headers=port[name].headers
        )
    )


async def test_another_partys_releases_are_never_listed(port: Port) -> None:
    chain = await full_chain(port, path=("forwarder", "carrier"))
    mine = str(chain.release_id)
    outsiders = {
        "other_line": port["other_line"].headers,
        "other_carrier": port["other_carrier"].headers,
        "other_terminal": port["other_terminal"].headers,
        "forwarder2": port["forwarder2"].headers,
        "sub dispatcher": await port.person_headers("sub"),
        "other carrier's driver": await port.driver_headers(
            "other_carrier", await port.driver("other_carrier")
        ),
    }
    for name, headers in outsiders.items():
        for state in STATES:
            assert mine not in await listed_ids(port, headers, state), (name, state)


async def test_no_item_shows_more_than_a_read_of_its_release(port: Port) -> None:
    chain = await full_chain(port, path=("forwarder", "carrier"))
    assert chain.driver is not None
    callers = {
        name: port[name].headers for name in ("line", "forwarder", "carrier", "terminal")
    } | {"driver": await port.driver_headers("carrier", chain.driver)}
    for name, headers in callers.items():
        (item,) = await listed(port, headers)
        read = ok(await port.client.get(f"/v1/releases/{item['release_id']}", headers=headers))
        shown = [
            {key: link[key] for key in ("seq", "kind", "from", "to", "status")}
            for link in read["links"]
        ]
        assert item["chain"] == shown, name
        assert (item["container"], item["status"], item["lights"]) == (
            read["container"],
            read["status"],
            read["lights"],
        ), name


async def test_a_driver_never_sees_a_colleagues_assignment(port: Port) -> None:
    first, second = await port.driver("carrier"), await port.driver("carrier")
    his = await full_chain(port, path=("forwarder", "carrier"))
    assert his.driver is not None
    theirs: list[Chain] = []
    for driver in (first, second):
        chain = await create_release(port, to="carrier")
        await accept(port, chain, 0, "carrier")
        await assign(port, chain, "carrier", driver)
        theirs.append(chain)
    for driver, chain in zip((first, second), theirs, strict=True):
        headers = await port.driver_headers("carrier", driver)
        for state in STATES:
            (item,) = await listed(port, headers, state)
            assert item["release_id"] == str(chain.release_id)
            # His own step only: not who passed the release on before him.
            assert [(link["kind"], link["to"]) for link in item["chain"]] == [
                ("assignment", str(driver.id))
            ]
    # The carrier's dispatcher sees all three, and no driver's acceptance is his to give.
    carrier = await listed(port, await port.person_headers("carrier"))
    assert len(carrier) == 3 and all(item["awaiting_me"] == [] for item in carrier)


async def test_a_withdrawn_assignment_no_longer_lists_for_the_driver(port: Port) -> None:
    chain = await create_release(port, to="carrier")
    await accept(port, chain, 0, "carrier")
    first, second = await port.driver("carrier"), await port.driver("carrier")
    first_headers = await port.driver_headers("carrier", first)
    seq = await assign_pending(port, chain, "carrier", first)
    (item,) = await listed(port, first_headers)
    assert item["awaiting_me"] == [seq]

    await withdraw(port, chain, seq, "carrier")
    await assign_pending(port, chain, "carrier", second)
    for state in STATES:
        assert await listed(port, first_headers, state) == [], state
    (item,) = await listed(port, await port.driver_headers("carrier", second))
    assert [link["to"] for link in item["chain"]] == [str(second.id)]


async def test_a_withdrawn_handover_takes_the_carrier_and_its_driver_off(port: Port) -> None:
    chain = await create_release(port)
    await accept(port, chain, 0, "forwarder")
    seq = await hand_over(port, chain, "forwarder", "carrier")
    await accept(port, chain, seq, "carrier")
    driver = await port.driver("carrier")
    await assign_pending(port, chain, "carrier", driver)
    await withdraw(port, chain, seq, "forwarder")  # the pending assignment goes with it
    for headers in (port["carrier"].headers, await port.driver_headers("carrier", driver)):
        for state in STATES:
            assert await listed(port, headers, state) == []


async def test_a_party_that_declined_no_longer_sees_the_release_as_work(port: Port) -> None:
    chain = await create_release(port)
    await accept(port, chain, 0, "forwarder")
    seq = await hand_over(port, chain, "forwarder", "carrier")
    (offered,) = await listed(port, port["carrier"].headers)
    assert offered["awaiting_me"] == [seq]

    ok(
        await port.client.post(
            f"/v1/releases/{chain.release_id}/links/{seq}/decline",
            headers=await port.person_headers("carrier"),
        )
    )
    # Declined, the carrier has no live link left: the read is a 404, and the list agrees.
    for state in STATES:
        assert await listed(port, port["carrier"].headers, state) == [], state
    hidden = await port.client.get(
        f"/v1/releases/{chain.release_id}", headers=port["carrier"].headers
    )
    assert hidden.status_code == 404
    # The forwarder still holds it; the declined step is not in the chain it is shown.
    (item,) = await listed(port, port["forwarder"].headers)
    assert [link["seq"] for link in item["chain"]] == [0] and item["awaiting_me"] == []


async def test_a_cursor_from_another_callers_list_carries_no_right(port: Port) -> None:
    for _ in range(3):
        await create_release(port)
    page = ok(await port.client.get(WORK, params={"limit": 1}, headers=port["forwarder"].headers))
    assert page["next"]
    stolen = await port.client.get(
        WORK, params={"cursor": page["next"]}, headers=port["other_carrier"].headers
    )
    assert ok(stolen) == {"releases": [], "next": None}
