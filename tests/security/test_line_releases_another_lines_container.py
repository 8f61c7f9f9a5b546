"""Threat: a shipping line's corrupt dispatcher releases a container that is not his line's.

Only the line the terminal named in its yard entry may release a container, only at that
terminal and for a bounded time; a refusal tells an unentitled caller nothing about the
container, and is recorded in the access log for protective monitoring.
"""

from datetime import datetime
from typing import Any

import httpx

from tests.helpers import assert_problem
from tests.release.chains import create_release, ok
from tests.release.port import (
    Port,
    access_log,
    announce,
    in_days,
    new_container,
    release_body,
    unchanged,
)


async def release_as(
    port: Port,
    container: str,
    *,
    line: str = "line",
    terminal: str = "terminal",
    valid_until: datetime | None = None,
) -> httpx.Response:
    """A release of the container asked by a dispatcher of `line` (custodial signing)."""
    return await port.client.post(
        "/v1/releases",
        json=release_body(port, container, terminal=terminal, valid_until=valid_until),
        headers=await port.person_headers(line),
    )


def refusal(response: httpx.Response) -> dict[str, Any]:
    """The one answer to a release without the right, with what varies per request removed."""
    body = assert_problem(response, 403, "release_not_entitled")
    return {key: value for key, value in body.items() if key != "instance"}


async def test_a_line_cannot_release_a_container_the_terminal_announced_for_another_line(
    port: Port,
) -> None:
    container = new_container()
    await announce(port, container, line="line")
    async with unchanged(port.release):
        response = await release_as(port, container, line="other_line")
    refusal(response)


async def test_a_line_cannot_release_a_container_nobody_announced(port: Port) -> None:
    async with unchanged(port.release):
        response = await release_as(port, new_container(), line="other_line")
    refusal(response)


async def test_a_line_cannot_release_its_container_at_another_terminal(port: Port) -> None:
    container = new_container()
    await announce(port, container, line="line", terminal="terminal")
    async with unchanged(port.release):
        response = await release_as(port, container, terminal="other_terminal")
    refusal(response)


async def test_a_line_cannot_name_a_party_that_is_no_terminal_as_the_terminal(port: Port) -> None:
    container = new_container()
    await announce(port, container)
    async with unchanged(port.release):
        response = await release_as(port, container, terminal="forwarder")
    refusal(response)


async def test_a_line_cannot_block_its_container_with_a_release_valid_until_2099(
    port: Port,
) -> None:
    container = new_container()
    await announce(port, container)
    async with unchanged(port.release):
        response = await release_as(
            port, container, valid_until=datetime.fromisoformat("2099-01-01T00:00:00+00:00")
        )
    assert_problem(response, 422, "valid_until_too_late")


async def test_a_line_cannot_release_beyond_the_end_the_terminal_set(port: Port) -> None:
    container = new_container()
    await announce(port, container, valid_until=in_days(2))
    async with unchanged(port.release):
        response = await release_as(port, container, valid_until=in_days(3))
    assert_problem(response, 422, "valid_until_too_late")
    ok(await release_as(port, container, valid_until=in_days(1)), 201)


async def test_the_refusal_does_not_tell_an_outsider_whether_a_box_has_an_open_release(
    port: Port,
) -> None:
    released = await create_release(port)
    announced_for_another = new_container()
    await announce(port, announced_for_another)
    answers = [
        refusal(await release_as(port, container, line="other_line"))
        for container in (released.container, announced_for_another, new_container())
    ]
    assert answers[0] == answers[1] == answers[2]


async def test_a_line_that_released_its_container_may_learn_that_it_is_open(port: Port) -> None:
    chain = await create_release(port)
    response = await release_as(port, chain.container)
    assert_problem(response, 409, "release_open_for_container")


async def test_refused_release_attempts_are_in_the_access_log(port: Port) -> None:
    container = new_container()
    await announce(port, container)
    refusal(await release_as(port, container, line="other_line"))
    entries = [entry for entry in await access_log(port.release) if entry.container == container]
    assert [(e.party_id, e.action, e.outcome) for e in entries] == [
        (port["other_line"].id, "release.create", "refused")
    ]
    assert entries[0].person_id is not None
