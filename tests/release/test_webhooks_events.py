"""Every event type, driven through the real API, reaches the subscribers that may know of
it, signed so that the documented receiver check accepts it."""

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest

from shared.models import utcnow
from shared.webhooks.signing import verify
from tests.conftest import SettingsFactory
from tests.release.chains import (
    accept,
    ask_gate,
    create_release,
    full_chain,
    gate_pass,
    hand_over,
    ok,
)
from tests.release.port import Port, in_days, make_port
from tests.release.webhooks import (
    READER_TYPES,
    SECURITY_TYPES,
    TERMINAL_TYPES,
    Receiver,
    deliver,
    subscribe,
)


@pytest.fixture
async def port(make_settings: SettingsFactory) -> AsyncIterator[Port]:
    """A port whose gate selects every container, with local receivers allowed."""
    async with make_port(make_settings, inspect_probability=1.0, webhook_allow_private=True) as p:
        yield p


def by_release(receiver: Receiver, release_id: uuid.UUID) -> list[str]:
    return [
        item.event["type"].removeprefix("nl.ketenpas.")
        for item in receiver.received
        if item.event.get("subject") == str(release_id)
    ]


async def test_every_event_type_reaches_those_who_may_know(port: Port) -> None:
    receivers = {name: Receiver() for name in ("line", "forwarder", "carrier", "terminal")}
    receivers["security"] = Receiver()
    secrets: dict[str, str] = {}
    async with (
        receivers["line"].running(),
        receivers["forwarder"].running(),
        receivers["carrier"].running(),
        receivers["terminal"].running(),
        receivers["security"].running(),
    ):
        for name in ("line", "forwarder", "carrier"):
            made = await subscribe(port, name, receivers[name].url, READER_TYPES)
            secrets[name] = made["secret"]
        made = await subscribe(port, "terminal", receivers["terminal"].url, TERMINAL_TYPES)
        secrets["terminal"] = made["secret"]
        made = await subscribe(port, "security", receivers["security"].url, SECURITY_TYPES)
        secrets["security"] = made["secret"]

        # A whole pickup: nominations and acceptances, a hold on and off, a selection, its
        # clearance, the release at the gate and the gate-out.
        chain = await full_chain(port, path=("forwarder", "carrier"))
        assert chain.driver is not None
        hold = f"/v1/releases/{chain.release_id}/holds/customs"
        ok(await port.client.put(hold, json={}, headers=port["customs"].headers))
        deleted = await port.client.delete(hold, headers=port["customs"].headers)
        assert deleted.status_code in (200, 204), deleted.text
        first = await ask_gate(
            port, chain.container, gate_pass=await gate_pass(port, "carrier", chain.driver)
        )
        assert first["decision"] == "inspect"
        cleared = await port.client.post(
            f"/v1/inspections/{first['inspection_id']}/outcome",
            json={"outcome": "clear"},
            headers=port["customs"].headers,
        )
        ok(cleared)
        second = await ask_gate(
            port, chain.container, gate_pass=await gate_pass(port, "carrier", chain.driver)
        )
        assert second["decision"] == "release"
        ok(
            await port.client.post(
                f"/v1/gate/decisions/{second['decision_id']}/complete",
                headers=port["terminal"].headers,
            )
        )

        # A declined nomination, a withdrawn handover, a cancelled release.
        declined = await create_release(port, to="forwarder")
        await deliver(port)  # the dispatcher looks about every second: before the decline
        ok(
            await port.client.post(
                f"/v1/releases/{declined.release_id}/links/0/decline",
                headers=port["forwarder"].headers,
            )
        )
        cancelled = await create_release(port, to="forwarder")
        await accept(port, cancelled, 0, "forwarder")
        seq = await hand_over(port, cancelled, "forwarder", "carrier")
        ok(
            await port.client.post(
                f"/v1/releases/{cancelled.release_id}/links/{seq}/withdraw",
                headers=port["forwarder"].headers,
            )
        )
        ok(
            await port.client.post(
                f"/v1/releases/{cancelled.release_id}/cancel", headers=port["line"].headers
            )
        )
        # A finding: a customs hold and an alert for port security.
        found = await full_chain(port, path=("forwarder", "carrier"))
        assert found.driver is not None
        selected = await ask_gate(
            port, found.container, gate_pass=await gate_pass(port, "carrier", found.driver)
        )
        ok(
            await port.client.post(
                f"/v1/inspections/{selected['inspection_id']}/outcome",
                json={"outcome": "finding"},
                headers=port["security"].headers,
            )
        )
        await deliver(port)
        # A release that runs out: announced once it has, by the dispatcher's look.
        expiring = await create_release(port, to="forwarder", valid_until=in_days(1))
        await deliver(port)
        await deliver(port, utcnow() + timedelta(days=1, hours=1))

    # Every delivery verifies with its subscription's secret, as a receiver checks it.
    for name, receiver in receivers.items():
        for item in receiver.received:
            verify(secrets[name], item.headers, item.body)
            assert item.headers["content-type"] == "application/cloudevents+json"

    pickup = chain.release_id
    assert by_release(receivers["line"], pickup) == [
        "release.nomination_received",
        "release.link_accepted",
        "release.nomination_received",
        "release.link_accepted",
        "release.nomination_received",
        "release.link_accepted",
        "release.hold_placed",
        "release.hold_lifted",
        "gate.completed",
    ]
    assert by_release(receivers["carrier"], pickup) == by_release(receivers["line"], pickup)
    # The carrier was nominated at link 1: it still learns of the steps before (it may read
    # the whole chain), as the fan-out judges at the time it runs.
    terminal = by_release(receivers["terminal"], pickup)
    assert terminal == [
        *by_release(receivers["line"], pickup)[:-1],
        "inspection.selected",  # drawn while the gate decides, so before its decision
        "gate.decided",
        "gate.decided",
        "gate.completed",
    ]
    assert by_release(receivers["security"], pickup) == ["inspection.selected"]

    # The forwarder declined: the release is no longer its to read, so only the line (and
    # the terminal) hear of the decline.
    assert by_release(receivers["line"], declined.release_id) == [
        "release.nomination_received",
        "release.link_declined",
    ]
    assert by_release(receivers["forwarder"], declined.release_id) == [
        "release.nomination_received"
    ]
    assert by_release(receivers["line"], cancelled.release_id) == [
        "release.nomination_received",
        "release.link_accepted",
        "release.nomination_received",
        "release.link_withdrawn",
        "release.cancelled",
    ]
    assert by_release(receivers["line"], found.release_id)[-1] == "release.hold_placed"
    alerts = [
        item.event
        for item in receivers["security"].received
        if item.event["type"].endswith("alert.raised")
    ]
    assert alerts and alerts[0]["data"]["kind"] == "inspection_finding"
    assert all(
        "alert.raised" not in t
        for r in ("line", "forwarder", "carrier", "terminal")
        for t in receivers[r].types()
    )
    assert by_release(receivers["line"], expiring.release_id) == [
        "release.nomination_received",
        "release.expired",
    ]

    # The payload of a release event is the release as that party reads it.
    event = next(
        item.event for item in receivers["carrier"].received if item.event["subject"] == str(pickup)
    )
    data: dict[str, Any] = event["data"]
    assert data["release"]["release_id"] == str(pickup)
    assert data["release"]["reference"] is None  # the carrier's read does not show it
    assert event["source"] == port.release.state.settings.public_url
