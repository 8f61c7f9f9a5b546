"""Threat: a bundle made with another log's key, another identity service's keys or another
VRF key (a copy of the port set up by an insider) passes for the port's.

The verifier trusts only the anchors its reader gives: each of them must have signed.
"""

import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.release.evidence.verify import EvidenceFailed
from services.release.inspections.keys import b64
from shared import jose, vrf
from shared.tlog.note import verifier_key
from tests.release.evidence_bundles import anchors, export, picked_up
from tests.release.port import Port


async def test_another_log_key_is_refused(port: Port) -> None:
    bundle = await export(port, await picked_up(port))
    trusted = await anchors(port)
    origin = trusted.log_key.split("+", 1)[0]
    other = Ed25519PrivateKey.generate().public_key().public_bytes_raw()
    trusted.log_key = verifier_key(origin, other)
    with pytest.raises(EvidenceFailed) as refusal:
        trusted.verify(bundle)
    assert refusal.value.check == "checkpoint"


async def test_another_identity_jwks_is_refused(port: Port) -> None:
    bundle = await export(port, await picked_up(port))
    trusted = await anchors(port)
    trusted.identity_jwks = json.dumps(jose.jwks([jose.generate_key()])).encode()
    with pytest.raises(EvidenceFailed) as refusal:
        trusted.verify(bundle)
    assert refusal.value.check == "identity keys"


async def test_another_inspection_key_is_refused(port: Port) -> None:
    bundle = await export(port, await picked_up(port))
    trusted = await anchors(port)
    trusted.inspection_keys = [b64(vrf.public_key(b"\x07" * 32)).encode()]
    with pytest.raises(EvidenceFailed) as refusal:
        trusted.verify(bundle)
    assert refusal.value.check == "draws"
