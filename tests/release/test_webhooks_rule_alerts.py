"""An alert a monitoring rule raises is announced to port security's subscribers like the
service's own alerts: `alert.raised`, in the transaction of the look that raised it."""

import uuid
from collections.abc import AsyncIterator

import pytest

from tests.conftest import SettingsFactory
from tests.monitoring.alerting import runner
from tests.release.port import Port, make_port
from tests.release.webhooks import Receiver, deliver, subscribe

ALERT_RAISED = "nl.ketenpas.alert.raised"


@pytest.fixture
async def port(make_settings: SettingsFactory) -> AsyncIterator[Port]:
    """A port with local receivers allowed."""
    async with make_port(make_settings, webhook_allow_private=True) as p:
        yield p


async def test_a_rules_alert_reaches_port_securitys_subscription(port: Port) -> None:
    security = Receiver()
    async with security.running():
        await subscribe(port, "security", security.url, [ALERT_RAISED])
        await runner(port.release).step()
        for _ in range(3):
            missing = await port.client.get(
                f"/v1/releases/{uuid.uuid4()}", headers=port["carrier"].headers
            )
            assert missing.status_code == 404
        report = await runner(port.release).step()
        assert report.raised == 1
        await deliver(port)

    [event] = [item.event for item in security.received]
    assert event["type"] == ALERT_RAISED
    assert event["data"]["kind"] == "out_of_scope_lookups"
    assert event["data"]["severity"] == "high"
