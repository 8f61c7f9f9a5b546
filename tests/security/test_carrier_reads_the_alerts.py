"""Threat: a carrier, terminal or customs clerk reads port security's alerts to learn which
containers were selected, seized or let go over capacity.

Alerts are port security's alone; everyone else gets 403.
"""

import pytest

from tests.release.port import Port

PERIOD = {"since": "2000-01-01T00:00:00Z", "until": "2100-01-01T00:00:00Z"}


@pytest.mark.parametrize("member", ["carrier", "terminal", "line", "customs"])
async def test_only_port_security_lists_alerts(port: Port, member: str) -> None:
    refused = await port.client.get("/v1/alerts", params=PERIOD, headers=port[member].headers)
    assert refused.status_code == 403, refused.text
    allowed = await port.client.get("/v1/alerts", params=PERIOD, headers=port["security"].headers)
    assert allowed.status_code == 200
