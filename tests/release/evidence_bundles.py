"""Evidence bundles for tests: a released and picked-up container, exported, and its anchors."""

import json
from dataclasses import dataclass
from typing import Any

from services.release.evidence.verify import EvidenceReport, verify_bundle
from tests.audit_helpers import integrate_all
from tests.release.chains import Chain, ask_gate, full_chain, gate_pass, ok
from tests.release.port import Port


@dataclass
class Anchors:
    """What a reader of a bundle trusts: the log key, the identity JWKS, the VRF keys."""

    log_key: str
    identity_jwks: bytes
    inspection_keys: list[bytes]

    def verify(self, bundle: bytes) -> EvidenceReport:
        """Verify a bundle against these anchors."""
        return verify_bundle(
            bundle,
            log_key=self.log_key,
            identity_jwks=self.identity_jwks,
            inspection_keys=self.inspection_keys,
        )


async def anchors(port: Port) -> Anchors:
    """The anchors as their owners publish them."""
    log_key = (await port.client.get("/log/key")).text.strip()
    jwks = (await port.identity_client.get("/.well-known/jwks.json")).content
    inspection = (await port.client.get("/v1/inspections/key")).content
    return Anchors(log_key, jwks, [inspection])


async def picked_up(port: Port) -> Chain:
    """A full chain, released at the gate and taken out."""
    chain = await full_chain(port)
    assert chain.driver is not None
    decision = await ask_gate(
        port, chain.container, gate_pass=await gate_pass(port, "sub", chain.driver)
    )
    assert decision["decision"] == "release", decision
    ok(
        await port.client.post(
            f"/v1/gate/decisions/{decision['decision_id']}/complete",
            headers=port["terminal"].headers,
        )
    )
    return chain


async def export(port: Port, chain: Chain, member: str = "security") -> bytes:
    """The release's bundle as port security downloads it, once the log has caught up."""
    await integrate_all(port.release)
    response = await port.client.get(
        f"/v1/releases/{chain.release_id}/evidence", headers=port[member].headers
    )
    assert response.status_code == 200, response.text
    return response.content


def edited(bundle: bytes, change: Any) -> bytes:
    """The bundle re-serialised canonically after `change(document)` edited it."""
    import rfc8785

    document = json.loads(bundle)
    change(document)
    return bytes(rfc8785.dumps(document))
