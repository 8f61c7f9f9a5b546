"""Threat: an insider at one party reads another party's subscriptions (its endpoint, what it
listens for), lists its deliveries (which releases it was told of), deletes its subscription
to blind it, or replays its deliveries to flood it or to learn them again.

Every subscription route finds a subscription only within the caller's own party: another
party's is 404 `subscription_not_found`, exactly as an unknown id, for reading, listing its
deliveries, deleting and replaying. The list shows the caller's party's own only, and never a
secret. Nothing changes.
"""

from collections.abc import AsyncIterator

import pytest

from services.release.webhooks.models import DeliveryStatus
from tests.conftest import SettingsFactory
from tests.helpers import assert_problem
from tests.release.chains import create_release
from tests.release.port import Port, make_port
from tests.release.webhooks import (
    READER_TYPES,
    Receiver,
    deliver,
    deliveries,
    manager_headers,
    subscribe,
)


@pytest.fixture
async def port(make_settings: SettingsFactory) -> AsyncIterator[Port]:
    """A port with local receivers allowed."""
    async with make_port(make_settings, webhook_allow_private=True) as p:
        yield p


async def test_another_partys_subscription_is_not_there(port: Port) -> None:
    receiver = Receiver()
    async with receiver.running():
        made = await subscribe(port, "line", receiver.url, READER_TYPES)
        await create_release(port, to="forwarder")
        await deliver(port)
        [delivery] = await deliveries(port)
        base = f"/v1/subscriptions/{made['id']}"
        for name in ("other_line", "forwarder", "security"):
            for headers in (
                await manager_headers(port, name),
                await port.person_headers(name, "admin"),
            ):
                for response in (
                    await port.client.get(base, headers=headers),
                    await port.client.get(f"{base}/deliveries", headers=headers),
                    await port.client.delete(base, headers=headers),
                    await port.client.post(
                        f"{base}/deliveries/{delivery.id}/replay", headers=headers
                    ),
                    await port.client.post(
                        f"{base}/replay", json={"since": "2000-01-01T00:00:00Z"}, headers=headers
                    ),
                ):
                    assert_problem(response, 404, "subscription_not_found")
                listed = await port.client.get("/v1/subscriptions", headers=headers)
                assert listed.json() == {"subscriptions": []}
        await deliver(port)
    # Still there, not replayed, delivered once.
    owner = await manager_headers(port, "line")
    assert (await port.client.get(base, headers=owner)).json()["status"] == "active"
    [after] = await deliveries(port)
    assert after.status == DeliveryStatus.delivered and after.replays == 0
    assert len(receiver.received) == 1
    assert_problem(
        await port.client.post(f"{base}/deliveries/{delivery.id}x/replay", headers=owner),
        422,
        "invalid_request",
    )
