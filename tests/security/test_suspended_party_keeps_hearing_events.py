"""Threat: a party suspended for integrity (its people bribed, its systems in criminals'
hands) keeps its webhook subscription, and so keeps learning of the releases it took part
in while its clients and people are refused.

Before each delivery the dispatcher asks what every caller's party must show: a credential
valid now. A suspended or revoked party is sent nothing; its deliveries wait (and are given
up in time), so a reinstated party gets them, a revoked one never.
"""

from collections.abc import AsyncIterator

import pytest

from services.identity.parties import service as parties
from services.release.webhooks.models import DeliveryStatus
from shared.db import transaction
from shared.models import utcnow
from tests.conftest import SettingsFactory
from tests.release.chains import create_release, ok
from tests.release.port import Port, make_port
from tests.release.webhooks import READER_TYPES, Receiver, deliver, deliveries, subscribe


@pytest.fixture
async def port(make_settings: SettingsFactory) -> AsyncIterator[Port]:
    """Local receivers allowed; the identity service's answers never reused."""
    async with make_port(
        make_settings, webhook_allow_private=True, identity_refresh_seconds=0
    ) as p:
        yield p


async def test_a_suspended_party_is_sent_nothing(port: Port) -> None:
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
