"""Threat: a bribed terminal employee looks a container up before the criminals collect it.

The classic tell of an insider is a look-up of a container he has no business with, made
before the crime. "Who knew?" shows it to port security: the terminal operator's search of the
container (and a stranger's refused attempt at its release), with the person, his party, the
endpoint and the time, marked `before` the pickup; a read after the pickup is marked `after`.
"""

from tests.release.chains import full_chain, ok
from tests.release.port import Port
from tests.release.who_knew import pick_up, who_knew


async def test_the_operators_search_before_the_pickup_is_shown(port: Port) -> None:
    chain = await full_chain(port)
    insider = await port.person_headers("terminal", "operator")
    search = {"container": chain.container}
    ok(await port.client.get("/v1/releases", params=search, headers=insider))
    # A colleague at another terminal tries the release itself: refused, but on record.
    curious = await port.person_headers("other_terminal", "operator")
    response = await port.client.get(f"/v1/releases/{chain.release_id}", headers=curious)
    assert response.status_code == 404
    await pick_up(port, chain)
    ok(await port.client.get("/v1/releases", params=search, headers=insider))

    entries = (await who_knew(port, chain.container))["entries"]

    operator = port["terminal"].people["operator"]
    searches = [e for e in entries if e["person_id"] == str(operator.id)]
    assert [(e["action"], e["endpoint"], e["pickup"]) for e in searches] == [
        ("release.search", "GET /v1/releases", "before"),
        ("release.search", "GET /v1/releases", "after"),
    ]
    assert all(e["party_id"] == port["terminal"].id for e in searches)
    stranger = port["other_terminal"].people["operator"]
    [attempt] = [e for e in entries if e["person_id"] == str(stranger.id)]
    assert (attempt["action"], attempt["outcome"], attempt["pickup"]) == (
        "release.read",
        "not_found",
        "before",
    )
    assert attempt["endpoint"] == "GET /v1/releases/{release_id}"
