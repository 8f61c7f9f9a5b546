"""Threat: any signed-in person of a party, a bribed driver or terminal operator included,
has the identity service sign with his party's custodial key whatever step he likes, dated
when he likes and valid for ever, so the signatures no longer show who consented.

Refused: only a role that may take that step for its party signs it; the service sets
`iat`, bounds `exp`, and names the person in what it signs (`act: {sub: person id}`).
"""

import base64
import hashlib
import time
import uuid
from typing import Any

import httpx

from services.identity.parties.models import Party
from shared import jose
from tests.identity.assertions import audit_events
from tests.identity.factories import admin_headers, bearer, make_party, make_person, person_token

LINK = "ketenpas-link+jwt"
ACK = "ketenpas-ack+jwt"
YEAR = 365 * 86400
#: The bounds docs/keys-and-signing.md promises: a link lives at most 30 days, an
#: acceptance an hour.
MAX_LINK_LIFETIME = 30 * 86400
ACK_LIFETIME = 3600


def link_claims(party: Party, kind: str = "handover", **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "release_id": str(uuid.uuid4()),
        "container": "MSKU1234565",
        "seq": 1,
        "kind": kind,
        "from": party.id,
        "to": "EU.EORI.NL999999999",
        "iat": now,
        "exp": now + 600,
        "jti": str(uuid.uuid4()),
    }
    claims.update(overrides)
    return claims


def ack_claims(**overrides: Any) -> dict[str, Any]:
    claims: dict[str, Any] = {
        "link": base64.urlsafe_b64encode(hashlib.sha256(b"a link").digest()).rstrip(b"=").decode(),
        "iat": int(time.time()),
        "jti": str(uuid.uuid4()),
    }
    claims.update(overrides)
    return claims


async def custodial(app: Any, client: httpx.AsyncClient, *roles: str) -> Party:
    """A party with a custodial key."""
    _, admin = await admin_headers(app)
    party = await make_party(app, *roles)
    response = await client.post(f"/v1/parties/{party.id}/keys/custodial", headers=admin)
    assert response.status_code == 201, response.text
    return party


async def signed_in(app: Any, party: Party, role: str) -> tuple[Any, dict[str, str]]:
    person = await make_person(app, party, role)
    return person, bearer(await person_token(app, person, party))


async def sign(
    client: httpx.AsyncClient, headers: dict[str, str], typ: str, claims: dict[str, Any]
) -> httpx.Response:
    return await client.post("/v1/sign", json={"typ": typ, "claims": claims}, headers=headers)


def refused(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["code"] == code, response.text


async def test_a_driver_cannot_have_his_partys_key_sign_anything(identity_app: Any) -> None:
    app, client = identity_app
    carrier = await custodial(app, client, "carrier")
    _, driver = await signed_in(app, carrier, "driver")

    refused(
        await sign(client, driver, LINK, link_claims(carrier, "assignment")),
        403,
        "signing_not_allowed",
    )
    refused(await sign(client, driver, LINK, link_claims(carrier)), 403, "signing_not_allowed")
    refused(await sign(client, driver, ACK, ack_claims()), 403, "signing_not_allowed")
    assert await audit_events(app, "party_key.signed") == []


async def test_an_operator_or_officer_cannot_sign_a_step(identity_app: Any) -> None:
    app, client = identity_app
    carrier = await custodial(app, client, "carrier")
    for role in ("operator", "officer"):
        _, headers = await signed_in(app, carrier, role)
        refused(await sign(client, headers, LINK, link_claims(carrier)), 403, "signing_not_allowed")
        refused(await sign(client, headers, ACK, ack_claims()), 403, "signing_not_allowed")


async def test_a_dispatcher_signs_only_the_steps_of_his_partys_roles(identity_app: Any) -> None:
    app, client = identity_app
    carrier = await custodial(app, client, "carrier")
    line = await custodial(app, client, "shipping_line")
    _, carrier_desk = await signed_in(app, carrier, "dispatcher")
    _, line_desk = await signed_in(app, line, "dispatcher")

    # A carrier never releases; a shipping line never hands over, assigns or accepts.
    refused(
        await sign(client, carrier_desk, LINK, link_claims(carrier, "release", seq=0)),
        403,
        "signing_not_allowed",
    )
    for kind in ("handover", "assignment"):
        refused(
            await sign(client, line_desk, LINK, link_claims(line, kind)), 403, "signing_not_allowed"
        )
    refused(await sign(client, line_desk, ACK, ack_claims()), 403, "signing_not_allowed")
    # Nobody at the carrier accepts an assignment in the driver's name.
    refused(
        await sign(client, carrier_desk, ACK, ack_claims(sub=str(uuid.uuid4()))),
        403,
        "signing_not_allowed",
    )

    assert (
        await sign(client, carrier_desk, LINK, link_claims(carrier, "assignment"))
    ).status_code == 200
    assert (
        await sign(client, line_desk, LINK, link_claims(line, "release", seq=0))
    ).status_code == 200
    assert (await sign(client, carrier_desk, ACK, ack_claims())).status_code == 200


async def test_a_backdated_unbounded_signature_gets_the_services_time_and_names_the_person(
    identity_app: Any,
) -> None:
    app, client = identity_app
    carrier = await custodial(app, client, "carrier")
    person, headers = await signed_in(app, carrier, "dispatcher")
    now = int(time.time())
    claims = link_claims(carrier, iat=now - YEAR, exp=now + 50 * YEAR, act={"sub": "someone else"})

    response = await sign(client, headers, LINK, claims)

    assert response.status_code == 200, response.text
    _, signed = jose.peek(response.json()["jws"])
    assert now - 5 <= signed["iat"] <= int(time.time()) + 5
    assert signed["exp"] <= signed["iat"] + MAX_LINK_LIFETIME
    assert signed["act"] == {"sub": str(person.id)}

    ack = await sign(client, headers, ACK, ack_claims(iat=now - YEAR))
    assert ack.status_code == 200, ack.text
    _, acked = jose.peek(ack.json()["jws"])
    assert now - 5 <= acked["iat"] <= int(time.time()) + 5
    assert acked["exp"] == acked["iat"] + ACK_LIFETIME
    assert acked["act"] == {"sub": str(person.id)}
