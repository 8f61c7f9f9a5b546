"""Threat: a bribed carrier employee (or another party's administrator, or customs) reads
another party's exposure report to learn who its dispatchers and drivers are, who signs with
its custodial key and who holds keys: a map of whom to approach.

The report is port security's and the party's own administrators'. Anyone of another party
gets exactly the answer for a party that does not exist (404 `party_not_found`), from both
services; the release service refuses before it asks the identity service, and records the
attempt in the access log. The party's own other people get 403.
"""

import pytest

from tests.helpers import assert_problem
from tests.release.port import Port, access_log

UNKNOWN = "EU.EORI.NL000000001"


async def _answers(port: Port, headers: dict[str, str], party_id: str) -> list[dict[str, object]]:
    """The release and identity services' answers, without the party id they name."""
    answers = []
    for client in (port.client, port.identity_client):
        response = await client.get(f"/v1/parties/{party_id}/exposure", headers=headers)
        body = assert_problem(response, 404, "party_not_found")
        answers.append({k: v for k, v in body.items() if k != "instance"})
    return answers


@pytest.mark.parametrize(
    ("member", "role"),
    [
        ("other_carrier", "dispatcher"),
        ("other_carrier", "admin"),
        ("other_carrier", None),
        ("customs", "officer"),
        ("terminal", "admin"),
        ("line", "admin"),
    ],
)
async def test_another_party_cannot_tell_the_report_from_a_missing_party(
    port: Port, member: str, role: str | None
) -> None:
    await port.person_headers("carrier", "dispatcher")  # the carrier has staff to map
    headers = port[member].headers if role is None else await port.person_headers(member, role)
    calls_before = len(await access_log(port.release))
    mapped = await _answers(port, headers, port["carrier"].id)
    assert mapped == await _answers(port, headers, UNKNOWN)
    attempts = [e for e in (await access_log(port.release))[calls_before:]]
    assert [(e.action, e.outcome) for e in attempts] == [("exposure.read", "not_found")] * 2
    assert all(e.party_id == port[member].id for e in attempts)


async def test_the_identity_service_is_not_asked_for_a_stranger(port: Port) -> None:
    headers = await port.person_headers("other_carrier", "admin")
    path = f"/v1/parties/{port['carrier'].id}/exposure"
    # The first ask fetches the keys the caller's token is checked with; then the line is cut,
    # and any call to the identity service on his behalf would be a 503.
    assert_problem(await port.client.get(path, headers=headers), 404, "party_not_found")
    port.identity_line.up = False
    try:
        response = await port.client.get(path, headers=headers)
    finally:
        port.identity_line.up = True
    assert_problem(response, 404, "party_not_found")


@pytest.mark.parametrize("role", ["dispatcher", "driver", "operator"])
async def test_the_partys_own_staff_other_than_admins_are_refused(port: Port, role: str) -> None:
    headers = await port.person_headers("carrier", role)
    for client in (port.client, port.identity_client):
        response = await client.get(f"/v1/parties/{port['carrier'].id}/exposure", headers=headers)
        assert_problem(response, 403, "exposure_not_allowed")
    entry = (await access_log(port.release))[-1]
    assert (entry.action, entry.outcome) == ("exposure.read", "refused")
