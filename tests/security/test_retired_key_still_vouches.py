"""Threat: a key is retired (a departing employee's laptop, a rotated integration) but its
credential stays valid, so whoever kept the private key still signs links that verify and
still gets access tokens with it.

Refused: retiring a key suspends its credentials (docs/design.md, Wire formats), so nothing it
signs afterwards verifies and the token endpoint refuses it.
"""

from tests.identity.credential_factories import IdentityPort, issued


async def test_retiring_a_key_suspends_its_credential(identity_port: IdentityPort) -> None:
    port = identity_port
    credential = await issued(port)

    retired = await port.client.post(
        f"/v1/parties/{port.carrier.id}/keys/{port.carrier_kid}/retire", headers=port.admin
    )

    assert retired.status_code == 200, retired.text
    view = await port.client.get(
        f"/v1/credentials/{credential['credential_id']}", headers=port.admin
    )
    assert view.json()["status"] == "suspended", view.text
    assert view.json()["suspended"] is True
