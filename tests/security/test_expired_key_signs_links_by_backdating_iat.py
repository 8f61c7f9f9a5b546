"""Threat: an insider with an expired (or retired) key signs links by backdating `iat`.

A forwarder's employee keeps the private half of a key whose credential has run out. The
verifier used to judge the signer's credential at the `iat` the signer wrote, so a link
dated back into the credential's life was accepted. A link is now judged at the moment the
release service received it (recorded as the link's `created_at` and in its audit event),
its `iat` must lie within a small skew of that moment, and its lifetime is bounded.
"""

import json
import time
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from joserfc.jwk import OKPKey
from sqlmodel import col, select

from services.identity.credentials import service as credentials
from services.release.chain import verify
from services.release.chain.models import Link
from shared import jose
from shared.audit.models import AuditEvent
from shared.db import transaction
from tests.helpers import assert_problem
from tests.identity.factories import add_own_key
from tests.release import test_chain_verify as pure
from tests.release.chains import Chain, accept, create_release, ok
from tests.release.port import (
    Port,
    announce,
    in_days,
    new_container,
    release_body,
    release_link,
    sign_link,
    unchanged,
)

HOUR, DAY = 3600, 86400


async def certify(port: Port, name: str, key: OKPKey, *, issued: datetime) -> None:
    """A credential for a member's own key, as if issued at `issued`."""
    _, signing_key = await port.identity.state.keyring.signing()
    async with transaction(port.identity.state.sessions) as session:
        await credentials.issue_credential(
            session,
            party_id=port[name].id,
            kid=jose.thumbprint(key),
            roles=None,
            settings=port.identity.state.settings,
            signing_key=signing_key,
            actor="test",
            now=issued,
        )


async def members_since_days_ago(port: Port, *names: str) -> None:
    """The members' own keys have been certified for two days (the port is older than today)."""
    for name in names:
        await certify(port, name, port[name].key, issued=datetime.now(UTC) - timedelta(days=2))


async def expired_key(port: Port, name: str) -> OKPKey:
    """A new own key of a member whose only credential ran out an hour ago."""
    key = await add_own_key(port.identity, port[name].party)
    lifetime = timedelta(days=port.identity.state.settings.credential_lifetime_days)
    await certify(port, name, key, issued=datetime.now(UTC) - lifetime - timedelta(hours=1))
    return key


async def held_by_forwarder(port: Port) -> Chain:
    """A release the forwarder has received and accepted, in a port two days old."""
    await members_since_days_ago(port, "line", "forwarder", "carrier")
    chain = await create_release(port)
    await accept(port, chain, 0, "forwarder")
    return chain


def handover(port: Port, chain: Chain, **claims: object) -> dict[str, str]:
    """The body of the forwarder's handover to the carrier, signed with its current key."""
    return {
        "link": sign_link(
            port["forwarder"],
            release_id=str(chain.release_id),
            container=chain.container,
            seq=1,
            kind="handover",
            to=port["carrier"].id,
            prev=chain.links[-1],
            **claims,
        )
    }


async def test_an_expired_key_cannot_sign_a_handover_dated_back_into_its_validity(
    port: Port,
) -> None:
    chain = await held_by_forwarder(port)
    port["forwarder"].key = await expired_key(port, "forwarder")
    now = int(time.time())
    body = handover(port, chain, iat=now - 2 * HOUR, exp=now + DAY)
    async with unchanged(port.release):
        response = await port.client.post(
            f"/v1/releases/{chain.release_id}/links", json=body, headers=port["forwarder"].headers
        )
    assert_problem(response, 422, "link_backdated")


async def test_an_expired_key_cannot_sign_a_handover_dated_now_either(port: Port) -> None:
    chain = await held_by_forwarder(port)
    port["forwarder"].key = await expired_key(port, "forwarder")
    async with unchanged(port.release):
        response = await port.client.post(
            f"/v1/releases/{chain.release_id}/links",
            json=handover(port, chain),
            headers=port["forwarder"].headers,
        )
    assert_problem(response, 422, "credential_expired")


async def test_a_handover_backdated_with_a_valid_key_is_refused(port: Port) -> None:
    # Even a current key may not make a link look older than it is: `iat` is what the gate
    # and an investigation read as the moment of the handover.
    chain = await held_by_forwarder(port)
    now = int(time.time())
    async with unchanged(port.release):
        response = await port.client.post(
            f"/v1/releases/{chain.release_id}/links",
            json=handover(port, chain, iat=now - DAY, exp=now + DAY),
            headers=port["forwarder"].headers,
        )
    assert_problem(response, 422, "link_backdated")


async def test_a_handover_that_lives_for_a_year_is_refused(port: Port) -> None:
    chain = await held_by_forwarder(port)
    now = int(time.time())
    async with unchanged(port.release):
        response = await port.client.post(
            f"/v1/releases/{chain.release_id}/links",
            json=handover(port, chain, iat=now, exp=now + 365 * DAY),
            headers=port["forwarder"].headers,
        )
    assert_problem(response, 422, "link_lifetime_too_long")


async def test_a_release_link_dated_back_by_the_shipping_line_is_refused(port: Port) -> None:
    await members_since_days_ago(port, "line", "forwarder")
    container = new_container()
    await announce(port, container)  # the terminal names the line: the release is its to make
    now = int(time.time())
    async with unchanged(port.release):
        response = await port.client.post(
            "/v1/releases",
            json=release_body_backdated(port, container, iat=now - 2 * HOUR, exp=now + DAY),
            headers=port["line"].headers,
        )
    assert_problem(response, 422, "link_backdated")


def release_body_backdated(port: Port, container: str, *, iat: int, exp: int) -> dict[str, object]:
    """A release of the container whose pre-signed link carries these times."""
    valid_until = in_days(3)
    link = release_link(
        port,
        release_id=uuid.uuid4(),
        container=container,
        valid_until=valid_until,
        reference="BL-2026-0001",
        iat=iat,
        exp=exp,
    )
    return release_body(port, container, valid_until=valid_until, link=link)


async def test_the_receipt_time_is_recorded_and_audited(port: Port) -> None:
    chain = await held_by_forwarder(port)
    before = datetime.now(UTC)
    ok(
        await port.client.post(
            f"/v1/releases/{chain.release_id}/links",
            json=handover(port, chain),
            headers=port["forwarder"].headers,
        ),
        201,
    )
    async with transaction(port.release.state.sessions) as session:
        link = (
            await session.exec(
                select(Link).where(col(Link.release_id) == chain.release_id, col(Link.seq) == 1)
            )
        ).one()
        events = (
            await session.exec(
                select(AuditEvent.event).where(col(AuditEvent.event_type) == "link.submitted")
            )
        ).all()
    submitted = [json.loads(event) for event in events]
    [event] = [e for e in submitted if e["link_hash"] == link.jws_hash]
    assert before <= link.created_at <= datetime.now(UTC)
    assert datetime.fromisoformat(event["received_at"]) == link.created_at


def test_a_stored_link_is_judged_at_its_receipt_not_at_its_iat_or_now() -> None:
    # The pure verifier, as the gate and the chain view call it with a stored link.
    world = pure.make_world()
    line = pure.SHIPPING_LINE
    [link] = pure.build(world, steps=pure.STEPS[:1], pending=(0,))
    signed_at = jose.peek(link.jws)[1]["iat"]

    def judged(received_at: float) -> str | None:
        stored = [replace(link, received_at=received_at)]
        evidence = pure.evidence_for(world, pure.FACTS, stored)
        report = verify.verify_chain(
            pure.FACTS,
            stored,
            evidence=evidence,
            now=pure.NOW,
            max_links=8,
            complete=False,
            cache=world.cache,
        )
        return None if report.failure is None else report.failure.code

    # The line's only credential for the key ended ten seconds after the iat it wrote.
    world.credentials[line].clear()
    world.enrol(line, "shipping_line", key=world.keys[line], expires=signed_at + 10)
    # Received a minute after that iat: the credential had ended on receipt.
    assert judged(signed_at + 60) == "credential_expired"
    # A credential that ended after the receipt still vouches for the link, a day later.
    world.credentials[line].clear()
    world.enrol(line, "shipping_line", key=world.keys[line], expires=signed_at + HOUR)
    assert signed_at + DAY <= pure.NOW
    assert judged(signed_at + 60) is None
