"""Threat: a customs officer or terminal operator follows a release through repeated hold PUTs.

`PUT /v1/releases/{id}/holds/{kind}` answers with the release view; a hold placer who PUTs an
existing hold again and again reads the release (its chain, its driver) without a trace in
the access log. Every answer that shows release data is a read and is logged, as are the
attempts on releases the caller may not see.
"""

import uuid

from tests.helpers import assert_problem
from tests.release.chains import create_release, ok
from tests.release.port import Port, access_log


async def test_a_repeated_hold_put_is_a_logged_read(port: Port) -> None:
    chain = await create_release(port)
    path = f"/v1/releases/{chain.release_id}/holds/customs"
    customs = await port.person_headers("customs", "officer")
    first = ok(await port.client.put(path, json={"reason": "X-ray"}, headers=customs))
    second = ok(await port.client.put(path, headers=customs))
    third = ok(await port.client.put(path, headers=customs))
    assert first == second == third
    reads = [
        (entry.action, entry.outcome)
        for entry in await access_log(port.release)
        if entry.release_id == chain.release_id and entry.party_id == port["customs"].id
    ]
    assert reads == [("hold.place", "shown")] * 3


async def test_hold_puts_on_releases_the_caller_may_not_see_are_logged(port: Port) -> None:
    chain = await create_release(port)
    for release_id in (chain.release_id, uuid.uuid4()):
        response = await port.client.put(
            f"/v1/releases/{release_id}/holds/terminal", headers=port["other_terminal"].headers
        )
        assert_problem(response, 404, "release_not_found")
    tried = [
        (entry.release_id, entry.outcome)
        for entry in await access_log(port.release)
        if entry.party_id == port["other_terminal"].id
    ]
    assert len(tried) == 2 and {outcome for _, outcome in tried} == {"not_found"}


async def test_lifting_a_hold_is_a_logged_read(port: Port) -> None:
    chain = await create_release(port)
    path = f"/v1/releases/{chain.release_id}/holds/terminal"
    ok(await port.client.put(path, headers=port["terminal"].headers))
    ok(await port.client.delete(path, headers=port["terminal"].headers))
    actions = [
        entry.action
        for entry in await access_log(port.release)
        if entry.party_id == port["terminal"].id and entry.release_id == chain.release_id
    ]
    assert actions == ["hold.place", "hold.lift"]


async def test_a_repeated_hold_put_on_a_closed_release_shows_no_more_than_a_first(
    port: Port,
) -> None:
    chain = await create_release(port)
    held = f"/v1/releases/{chain.release_id}/holds/terminal"
    ok(await port.client.put(held, headers=port["terminal"].headers))
    ok(
        await port.client.post(
            f"/v1/releases/{chain.release_id}/cancel", headers=port["line"].headers
        )
    )
    first = await port.client.put(
        f"/v1/releases/{chain.release_id}/holds/customs",
        headers=await port.person_headers("customs", "officer"),
    )
    repeated = await port.client.put(held, headers=port["terminal"].headers)
    assert_problem(first, 409, "release_not_open")
    assert_problem(repeated, 409, "release_not_open")
