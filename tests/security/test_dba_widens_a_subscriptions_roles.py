"""Threat: a database administrator of the release service, paid by a forwarder, edits the
forwarder's webhook subscription to give it an overseer's role (customs), so that the
fan-out judges it as customs and tells it of inspection selections and of every release.

The roles a subscription is judged with are those its party's token carried when it
subscribed, stored in the release database, where the administrator can reach them. So
before each delivery the dispatcher holds them to what the identity service attests now:
the roles of the party's valid credentials. A subscription claiming a role its party does
not hold is sent nothing (`party_roles_changed`), whatever its deliveries say.
"""

import uuid

from sqlalchemy import update
from sqlmodel import col

from services.release.webhooks.models import DeliveryStatus, Subscription
from shared.db import transaction
from tests.release.chains import create_release
from tests.release.port import Port
from tests.release.webhooks import READER_TYPES, Receiver, deliver, deliveries, subscribe


async def test_a_subscription_given_a_role_its_party_lacks_is_sent_nothing(
    subscribers_port: Port,
) -> None:
    port = subscribers_port
    receiver = Receiver()
    async with receiver.running():
        made = await subscribe(port, "forwarder", receiver.url, READER_TYPES)
        await create_release(port, to="forwarder")
        await deliver(port)
        assert receiver.types() == ["nl.ketenpas.release.nomination_received"]

        async with transaction(port.release.state.sessions) as session:
            await session.exec(
                update(Subscription)
                .where(col(Subscription.id) == uuid.UUID(made["id"]))
                .values(party_roles=["customs", "forwarder"])
            )
        await create_release(port, to="forwarder")
        await deliver(port)

        assert receiver.types() == ["nl.ketenpas.release.nomination_received"]
        held = (await deliveries(port))[-1]
        assert held.status == DeliveryStatus.pending
        assert held.last_error == "party_roles_changed"


async def test_a_subscription_with_its_partys_own_roles_is_sent_its_events(
    subscribers_port: Port,
) -> None:
    port = subscribers_port
    # The same check passes an untouched subscription: the roles its token carried are the
    # roles its credential attests.
    receiver = Receiver()
    async with receiver.running():
        await subscribe(port, "forwarder", receiver.url, READER_TYPES)
        for _ in range(2):
            await create_release(port, to="forwarder")
        await deliver(port)
    assert receiver.types() == ["nl.ketenpas.release.nomination_received"] * 2
    assert {row.status for row in await deliveries(port)} == {DeliveryStatus.delivered}
