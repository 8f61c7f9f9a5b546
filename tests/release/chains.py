"""Building chains through the API, pre-signed (own keys) or custodial (people)."""

import itertools
import uuid
from dataclasses import dataclass
from typing import Any

import httpx

from services.identity.people.models import Person
from tests.release.port import (
    Port,
    announce,
    in_days,
    new_container,
    release_body,
    release_link,
    sign_ack,
    sign_link,
)


def ok(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    """The JSON of a response that must have this status."""
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


@dataclass
class Chain:
    """A release whose chain the test built, and the driver at its end (if assigned)."""

    release_id: uuid.UUID
    container: str
    links: list[str]
    driver: Person | None = None


async def create_release(
    port: Port,
    *,
    container: str | None = None,
    custodial: bool = False,
    to: str = "forwarder",
    announced: bool = False,
    **fields: Any,
) -> Chain:
    """A release by the shipping line, pre-signed by its client or signed for its person.

    The terminal announces the container first, naming the line (a release needs it),
    unless it has been `announced` already.
    """
    container = container or new_container()
    if not announced:
        await announce(port, container, terminal=fields.get("terminal", "terminal"))
    if custodial:
        headers = await port.person_headers("line")
        body = release_body(port, container, to=to, **fields)
    else:
        headers = port["line"].headers
        release_id = uuid.uuid4()
        valid_until = fields.pop("valid_until", None) or in_days(3)
        reference = fields.pop("reference", "BL-2026-0001")
        link = release_link(
            port,
            release_id=release_id,
            container=container,
            valid_until=valid_until,
            to=to,
            reference=reference,
            **fields,
        )
        body = release_body(
            port,
            container,
            to=to,
            valid_until=valid_until,
            reference=reference,
            link=link,
            **{k: v for k, v in fields.items() if k in ("terminal",)},
        )
    view = ok(await port.client.post("/v1/releases", json=body, headers=headers), 201)
    return Chain(uuid.UUID(view["release_id"]), container, [view["links"][0]["link_hash"]])


async def accept(port: Port, chain: Chain, seq: int, name: str, *, custodial: bool = False) -> None:
    """The receiver (a member) accepts link `seq`."""
    path = f"/v1/releases/{chain.release_id}/links/{seq}/accept"
    if custodial:
        response = await port.client.post(path, headers=await port.person_headers(name))
    else:
        link = await link_jws(port, chain, seq, name)
        response = await port.client.post(
            path, json={"ack": sign_ack(port[name], link)}, headers=port[name].headers
        )
    ok(response)


async def link_jws(port: Port, chain: Chain, seq: int, name: str) -> str:
    """The compact JWS of a live link, as port security sees it (tests only)."""
    view = ok(
        await port.client.get(
            f"/v1/releases/{chain.release_id}/chain", headers=port["security"].headers
        )
    )
    jws: str = view["links"][seq]["jws"]
    return jws


async def hand_over(
    port: Port, chain: Chain, sender: str, receiver: str, *, custodial: bool = False
) -> int:
    """The holder hands over to the next party; returns the new link's seq."""
    seq = len(chain.links)
    path = f"/v1/releases/{chain.release_id}/links"
    if custodial:
        body: dict[str, Any] = {"kind": "handover", "to": port[receiver].id}
        headers = await port.person_headers(sender)
    else:
        body = {
            "link": sign_link(
                port[sender],
                release_id=str(chain.release_id),
                container=chain.container,
                seq=seq,
                kind="handover",
                to=port[receiver].id,
                prev=chain.links[-1],
            )
        }
        headers = port[sender].headers
    view = ok(await port.client.post(path, json=body, headers=headers), 201)
    chain.links.append(view["link_hash"])
    return seq


async def assign(
    port: Port, chain: Chain, carrier: str, driver: Person, *, custodial: bool = False
) -> int:
    """The carrier assigns its driver, who accepts on his phone."""
    seq = len(chain.links)
    path = f"/v1/releases/{chain.release_id}/links"
    if custodial:
        body: dict[str, Any] = {"kind": "assignment", "to": str(driver.id)}
        headers = await port.person_headers(carrier)
    else:
        body = {
            "link": sign_link(
                port[carrier],
                release_id=str(chain.release_id),
                container=chain.container,
                seq=seq,
                kind="assignment",
                to=str(driver.id),
                prev=chain.links[-1],
            )
        }
        headers = port[carrier].headers
    view = ok(await port.client.post(path, json=body, headers=headers), 201)
    chain.links.append(view["link_hash"])
    chain.driver = driver
    ok(
        await port.client.post(
            f"{path}/{seq}/accept",
            json={"ack": port.device_ack(driver, view["link_hash"])},
            headers=await port.driver_headers(carrier, driver),
        )
    )
    return seq


async def assign_pending(port: Port, chain: Chain, carrier: str, driver: Person) -> int:
    """The carrier's dispatcher assigns the driver (custodially); he has not accepted yet."""
    seq = len(chain.links)
    view = ok(
        await port.client.post(
            f"/v1/releases/{chain.release_id}/links",
            json={"kind": "assignment", "to": str(driver.id)},
            headers=await port.person_headers(carrier),
        ),
        201,
    )
    chain.links.append(view["link_hash"])
    return seq


FULL_PATH = ("forwarder", "forwarder2", "carrier", "sub")


async def full_chain(
    port: Port, *, custodial: bool = False, path: tuple[str, ...] = FULL_PATH, **fields: Any
) -> Chain:
    """Shipping line -> each party of `path` (each accepting) -> a driver of the last one."""
    chain = await create_release(port, custodial=custodial, to=path[0], **fields)
    await accept(port, chain, 0, path[0], custodial=custodial)
    for sender, receiver in itertools.pairwise(path):
        seq = await hand_over(port, chain, sender, receiver, custodial=custodial)
        await accept(port, chain, seq, receiver, custodial=custodial)
    await assign(port, chain, path[-1], await port.driver(path[-1]), custodial=custodial)
    return chain


async def gate_pass(port: Port, carrier: str, driver: Person) -> str:
    """A gate pass the driver fetched on his phone just now (signed in with TOTP)."""
    response = await port.identity_client.post(
        f"/v1/people/{driver.id}/gate-pass", headers=await port.driver_headers(carrier, driver)
    )
    token: str = ok(response)["gate_pass"]
    return token


async def ask_gate(port: Port, container: str, **proof: Any) -> dict[str, Any]:
    """A decision asked by the terminal's client."""
    response = await port.client.post(
        "/v1/gate/decisions",
        json={"container": container, **proof},
        headers=port["terminal"].headers,
    )
    return ok(response, 201)
