"""Threat: someone outside port security asks who watched a container.

"Who knew?" tells which people and clients looked a container up: the investigator's list of
suspects. In other hands it tells a criminal which insiders are exposed, or whether anyone
noticed. Only port security (its officers, its clients with the `inspections` scope) gets an
answer; every other caller is refused with 403 and the refused question is itself in the
access log.
"""

from tests.helpers import assert_problem
from tests.release.port import Port, access_log
from tests.release.who_knew import PATH, picked_up


async def test_everyone_but_port_security_is_refused_and_logged(port: Port) -> None:
    chain = await picked_up(port)
    path = PATH.format(chain.container)
    callers = {
        "carrier client": port["carrier"].headers,
        "carrier dispatcher": await port.person_headers("carrier", "dispatcher"),
        "terminal client": port["terminal"].headers,
        "terminal operator": await port.person_headers("terminal", "operator"),
        "customs officer": await port.person_headers("customs", "officer"),
        "line client": port["line"].headers,
        "port security dispatcher": await port.person_headers("security", "dispatcher"),
    }
    for who, headers in callers.items():
        response = await port.client.get(path, headers=headers)
        assert response.status_code == 403, who
        assert_problem(response, 403, "role_required")
    refused = [
        entry
        for entry in await access_log(port.release)
        if entry.action == "investigation.who_knew"
    ]
    assert [entry.outcome for entry in refused] == ["refused"] * len(callers)
    assert {entry.container for entry in refused} == {chain.container}


async def test_port_security_client_and_officer_are_answered(port: Port) -> None:
    chain = await picked_up(port)
    path = PATH.format(chain.container)
    for headers in (port["security"].headers, await port.person_headers("security", "officer")):
        response = await port.client.get(path, headers=headers)
        assert response.status_code == 200, response.text
        assert response.json()["entries"]


async def test_without_a_token_nothing_is_said(port: Port) -> None:
    chain = await picked_up(port)
    response = await port.client.get(PATH.format(chain.container))
    assert_problem(response, 401, "token_missing")
