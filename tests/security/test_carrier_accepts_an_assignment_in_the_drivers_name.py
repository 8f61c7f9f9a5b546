"""Threat: someone at the carrier (a dispatcher, its systems, a colleague) accepts an
assignment in a driver's name, with the carrier's own key or its custodial key, so that the
chain shows a driver's consent he never gave and a gate pass of that driver's (or a stolen
phone's) takes the box.

Refused: a driver accepts an assignment with a key of his own, a device key whose
credential names him (`sub` = his person id); the chain refuses any acceptance of an
assignment signed by a key of the carrier, and nobody at the carrier can have the custodial
key sign it.
"""

import time
import uuid
from typing import Any

import httpx

from services.identity.people.models import Person
from services.release.chain.verify import ACK_TYP
from shared import jose
from tests.identity.factories import make_person
from tests.release.chains import Chain, accept, ask_gate, create_release, gate_pass, ok
from tests.release.port import Port, unchanged


async def assigned(port: Port, driver: Person) -> tuple[Chain, str]:
    """A release held by the carrier, assigned by its dispatcher to `driver`: (chain, hash)."""
    chain = await create_release(port, to="carrier")
    await accept(port, chain, 0, "carrier")
    view = ok(
        await port.client.post(
            f"/v1/releases/{chain.release_id}/links",
            json={"kind": "assignment", "to": str(driver.id)},
            headers=await port.person_headers("carrier"),
        ),
        201,
    )
    chain.links.append(view["link_hash"])
    return chain, view["link_hash"]


def ack_by(key: Any, link_hash: str, driver: Person) -> str:
    """An acceptance of the assignment naming the driver, signed with `key`."""
    claims = {"link": link_hash, "sub": str(driver.id), "iat": int(time.time())}
    return jose.sign({**claims, "jti": str(uuid.uuid4())}, key, typ=ACK_TYP)


async def accept_as_driver(
    port: Port, chain: Chain, driver: Person, ack: str | None
) -> httpx.Response:
    return await port.client.post(
        f"/v1/releases/{chain.release_id}/links/1/accept",
        json={} if ack is None else {"ack": ack},
        headers=await port.driver_headers("carrier", driver),
    )


def refused(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["code"] == code, response.text


async def test_the_carrier_cannot_accept_an_assignment_with_its_own_key(port: Port) -> None:
    driver = await make_person(port.identity, port["carrier"].party, "driver")
    chain, link_hash = await assigned(port, driver)

    async with unchanged(port.release):
        response = await accept_as_driver(
            port, chain, driver, ack_by(port["carrier"].key, link_hash, driver)
        )

    refused(response, 422, "ack_not_by_driver")


async def test_a_driver_cannot_accept_with_his_partys_custodial_key(port: Port) -> None:
    driver = await make_person(port.identity, port["carrier"].party, "driver")
    chain, _ = await assigned(port, driver)

    async with unchanged(port.release):
        response = await accept_as_driver(port, chain, driver, None)

    refused(response, 403, "signing_not_allowed")


async def test_a_colleagues_device_key_cannot_accept_in_the_drivers_name(port: Port) -> None:
    driver, colleague = await port.driver("carrier"), await port.driver("carrier")
    chain, link_hash = await assigned(port, driver)
    forged = ack_by(port.device_keys[colleague.id], link_hash, driver)

    async with unchanged(port.release):
        response = await accept_as_driver(port, chain, driver, forged)

    refused(response, 422, "ack_key_unknown")


async def test_the_driver_accepts_with_his_own_device_key_and_the_gate_releases(
    port: Port,
) -> None:
    driver = await port.driver("carrier")
    chain, link_hash = await assigned(port, driver)

    ok(await accept_as_driver(port, chain, driver, port.device_ack(driver, link_hash)))

    decision = await ask_gate(
        port, chain.container, gate_pass=await gate_pass(port, "carrier", driver)
    )
    assert decision["decision"] == "release", decision
