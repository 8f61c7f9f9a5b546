"""The release service's one clock: every handler takes the time of the request from
`deps.NowDep` (fed by `deps.current_time`), and so does everything it writes — the access log
included — and the caller's token is judged at it, so that one request has one instant, and
a test that overrides `current_time` moves all of it."""

import uuid
from datetime import datetime, timedelta

from services.release.access.models import AccessLogEntry
from services.release.deps import current_time
from shared.models import utcnow
from tests.helpers import assert_problem
from tests.release.chains import create_release, ok
from tests.release.port import Port, access_log, new_container


def stop_clock(port: Port, after: timedelta = timedelta(minutes=2)) -> datetime:
    """Stop the release service's clock a little after the real time (by default every
    token and credential of the port is still valid then) and return that moment: a row
    stamped with the system clock instead would not carry it."""
    fixed = (utcnow() + after).replace(microsecond=123_000)
    port.release.dependency_overrides[current_time] = lambda: fixed
    return fixed


async def logged(port: Port, action: str) -> list[AccessLogEntry]:
    """The access log's entries of one action."""
    return [entry for entry in await access_log(port.release) if entry.action == action]


async def test_a_read_is_logged_at_the_overridden_time(port: Port) -> None:
    chain = await create_release(port)
    fixed = stop_clock(port)

    ok(await port.client.get(f"/v1/releases/{chain.release_id}", headers=port["line"].headers))
    ok(await port.client.get(f"/v1/releases/{uuid.uuid4()}", headers=port["line"].headers), 404)

    reads = await logged(port, "release.read")
    assert [(entry.outcome, entry.at) for entry in reads] == [
        ("shown", fixed),
        ("not_found", fixed),
    ]


async def test_searches_are_logged_at_the_overridden_time(port: Port) -> None:
    fixed = stop_clock(port)
    container = new_container()

    ok(await port.client.get(f"/v1/releases?container={container}", headers=port["line"].headers))
    ok(
        await port.client.get(
            f"/v1/yard/entries?container={container}", headers=port["line"].headers
        )
    )

    assert [entry.at for entry in await logged(port, "release.search")] == [fixed]
    assert [entry.at for entry in await logged(port, "yard.search")] == [fixed]


async def test_a_hold_and_the_read_it_answers_with_share_one_instant(port: Port) -> None:
    chain = await create_release(port)
    fixed = stop_clock(port)
    customs = await port.person_headers("customs", "officer")

    view = ok(
        await port.client.put(f"/v1/releases/{chain.release_id}/holds/customs", headers=customs)
    )

    # The decision (the hold) and the access log's record of the answer agree.
    assert datetime.fromisoformat(view["holds"][0]["placed_at"]) == fixed
    assert [entry.at for entry in await logged(port, "hold.place")] == [fixed]


async def test_a_change_to_a_hidden_release_is_logged_at_the_overridden_time(port: Port) -> None:
    chain = await create_release(port)
    fixed = stop_clock(port)

    response = await port.client.post(
        f"/v1/releases/{chain.release_id}/cancel", headers=port["other_line"].headers
    )

    ok(response, 404)
    assert [(entry.outcome, entry.at) for entry in await logged(port, "release.change")] == [
        ("not_found", fixed)
    ]


async def test_access_tokens_are_judged_by_the_same_clock(port: Port) -> None:
    headers = port["line"].headers  # a client token for 600 seconds, issued at the real time
    search = f"/v1/releases?container={new_container()}"
    ok(await port.client.get(search, headers=headers))

    stop_clock(port, after=timedelta(minutes=15))

    # Remembered as verified, and still refused: it expired by the request's time.
    assert_problem(await port.client.get(search, headers=headers), 401, "token_expired")
