"""Threat: a party suspended for integrity (its people bribed, its systems in criminals'
hands) keeps its webhook subscription, and so keeps learning of the releases it took part
in while its clients and people are refused.

Before each delivery the dispatcher asks what every caller's party must show: a credential
valid now. A suspended or revoked party is sent nothing; its deliveries wait (and are given
up in time), so a reinstated party gets them, a revoked one never.
"""

from services.identity.parties import service as parties
from services.release.webhooks.models import DeliveryStatus
from shared.db import transaction
from shared.models import utcnow
from tests.release.chains import create_release, ok
from tests.release.port import Port
from tests.release.webhooks import READER_TYPES, Receiver, deliver, deliveries, subscribe


async def test_a_suspended_party_is_sent_nothing(subscribers_port: Port) -> None:
    port = subscribers_port
    receiver = Receiver()
    async with receiver.running():
        await subscribe(port, "forwarder", receiver.url, READER_TYPES)
        chain = await create_release(port, to="forwarder")
        await deliver(port)
        assert receiver.types() == ["nl.ketenpas.release.nomination_received"]
        async with transaction(port.identity.state.sessions) as session:
            await parties.suspend_party(
                session, party_id=port["forwarder"].id, actor="test", now=utcnow()
            )
        ok(
            await port.client.put(
                f"/v1/releases/{chain.release_id}/holds/customs",
                json={},
                headers=port["customs"].headers,
            )
        )
        await deliver(port)
        assert receiver.types() == ["nl.ketenpas.release.nomination_received"]
        held = (await deliveries(port))[-1]
        assert held.event_type == "nl.ketenpas.release.hold_placed"
        assert held.status == DeliveryStatus.pending and held.last_error == "party_not_active"
