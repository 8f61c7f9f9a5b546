"""Need-to-know: each party sees only the releases it has a part in, and only the fields its
role needs; what it may not see is a 404 like what does not exist; every read is logged."""

import uuid

from tests.helpers import assert_problem
from tests.release.chains import Chain, full_chain, ok
from tests.release.port import Port, access_log

SHORT = ("forwarder", "carrier")


async def read(port: Port, chain: Chain, headers: dict[str, str], what: str = "") -> int:
    response = await port.client.get(f"/v1/releases/{chain.release_id}{what}", headers=headers)
    if response.status_code == 404:
        assert_problem(response, 404, "release_not_found")
    return response.status_code


async def test_outsiders_get_404_exactly_like_a_missing_release_and_are_logged(
    port: Port,
) -> None:
    chain = await full_chain(port, path=SHORT)
    assert chain.driver is not None
    stranger = await port.driver("carrier")  # same carrier, not his assignment
    callers = {
        "other_carrier": port["other_carrier"].headers,
        "other_terminal": port["other_terminal"].headers,
        "other_line": port["other_line"].headers,
        "driver": await port.driver_headers("carrier", stranger),
        "sub dispatcher": await port.person_headers("sub"),
    }
    for name, headers in callers.items():
        assert await read(port, chain, headers) == 404, name
        missing = await port.client.get(f"/v1/releases/{uuid.uuid4()}", headers=headers)
        hidden = await port.client.get(f"/v1/releases/{chain.release_id}", headers=headers)
        assert (missing.status_code, missing.json()["code"], missing.json()["detail"]) == (
            hidden.status_code,
            hidden.json()["code"],
            hidden.json()["detail"],
        )
    log = await access_log(port.release)
    refused = [e for e in log if e.release_id == chain.release_id and e.outcome == "not_found"]
    assert {e.party_id for e in refused} == {
        port["other_carrier"].id,
        port["other_terminal"].id,
        port["other_line"].id,
        port["carrier"].id,
        port["sub"].id,
    }
    by_driver = [e for e in refused if e.person_id == stranger.id]
    assert by_driver and by_driver[0].actor == f"person:{stranger.id}"
    assert all(e.action == "release.read" for e in refused)


async def test_the_parties_of_the_chain_see_it_with_what_their_role_needs(port: Port) -> None:
    chain = await full_chain(port, path=SHORT, reference="BL-SECRET")
    assert chain.driver is not None
    views = {}
    for name in ("line", "forwarder", "carrier", "terminal", "security", "customs"):
        views[name] = ok(
            await port.client.get(f"/v1/releases/{chain.release_id}", headers=port[name].headers)
        )
    driver_view = ok(
        await port.client.get(
            f"/v1/releases/{chain.release_id}",
            headers=await port.driver_headers("carrier", chain.driver),
        )
    )
    for name in ("line", "forwarder", "terminal", "security", "customs"):
        assert views[name]["reference"] == "BL-SECRET", name
    assert views["carrier"]["reference"] is None
    assert driver_view["reference"] is None
    assert [link["kind"] for link in driver_view["links"]] == ["assignment"]
    assert driver_view["holder"] is None and driver_view["driver"] == str(chain.driver.id)
    assert views["carrier"]["driver"] == str(chain.driver.id)
    chain_view = ok(
        await port.client.get(
            f"/v1/releases/{chain.release_id}/chain", headers=port["carrier"].headers
        )
    )
    assert chain_view["verified"] and all(link["jws"] is None for link in chain_view["links"])
    forwarder_chain = ok(
        await port.client.get(
            f"/v1/releases/{chain.release_id}/chain", headers=port["forwarder"].headers
        )
    )
    assert all(link["jws"] for link in forwarder_chain["links"])
    denied = await port.client.get(
        f"/v1/releases/{chain.release_id}/chain",
        headers=await port.driver_headers("carrier", chain.driver),
    )
    assert_problem(denied, 403, "driver_not_allowed")


async def test_search_by_container_shows_only_what_the_caller_may_see(port: Port) -> None:
    chain = await full_chain(port, path=SHORT)
    path = f"/v1/releases?container={chain.container}"
    mine = ok(await port.client.get(path, headers=port["carrier"].headers))
    assert [r["release_id"] for r in mine["releases"]] == [str(chain.release_id)]
    theirs = ok(await port.client.get(path, headers=port["other_carrier"].headers))
    assert theirs["releases"] == []
    bad = await port.client.get(
        "/v1/releases?container=CSQU3054384", headers=port["carrier"].headers
    )
    assert_problem(bad, 422, "invalid_container")
    log = await access_log(port.release)
    searches = [e for e in log if e.action == "release.search" and e.container == chain.container]
    assert [(e.party_id, e.outcome, e.results) for e in searches] == [
        (port["carrier"].id, "shown", 1),
        (port["other_carrier"].id, "not_found", 0),
    ]


async def test_every_read_by_a_person_or_client_is_logged(port: Port) -> None:
    chain = await full_chain(port, path=SHORT)
    officer = await port.person_headers("security", "officer")
    ok(await port.client.get(f"/v1/releases/{chain.release_id}", headers=officer))
    ok(await port.client.get(f"/v1/releases/{chain.release_id}/chain", headers=officer))
    entries = [e for e in await access_log(port.release) if e.party_id == port["security"].id]
    assert [(e.action, e.outcome, e.release_id) for e in entries][-2:] == [
        ("release.read", "shown", chain.release_id),
        ("chain.read", "shown", chain.release_id),
    ]
    assert entries[-1].person_id == port["security"].people["officer"].id
