"""Threat: the log's operators, holding its database and its key, show one history to the
witness and another to a court (a fork), or take entries back (a rollback).

Signed by the log's own key, a forked or rolled-back checkpoint passes every check a reader
of one log can make. The witness, run by an outside body, holds the latest checkpoint it
cosigned and cosigns a new one only with a consistency proof from it: it refuses a second
root at the same size, a tree that does not extend its own, and a smaller tree, and keeps
the signed requests it refused. A verifier that requires the witness's cosignature refuses
whatever the witness did not cosign.
"""

import base64
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.witness.app import create_app
from shared.tlog.cosignature import (
    CosignatureVerifier,
    QuorumError,
    merge_signature_lines,
    require_quorum,
)
from shared.tlog.witness_protocol import submit
from tests.conftest import running
from tests.witness.conftest import MemoryLog, make_witness_settings

URL = "http://witness.test"


async def cosign(client: httpx.AsyncClient, log: MemoryLog, old: int) -> tuple[int, str]:
    """Submit the log's checkpoint; (status, the cosigned note or '')."""
    answer = await submit(client, URL, old, log.proof(old), log.note())
    if answer.status != 200:
        return answer.status, ""
    return 200, merge_signature_lines(log.note(), answer.lines)


async def test_a_fork_and_a_rollback_get_no_cosignature(tmp_path: Path) -> None:
    honest = MemoryLog().grow(40)
    settings = make_witness_settings(tmp_path, [honest.vkey])
    app = create_app(settings)
    witness: CosignatureVerifier = app.state.witness.signer.verifier()
    async with running(app) as client:
        client.base_url = httpx.URL(URL)
        status, cosigned = await cosign(client, honest, 0)
        assert status == 200
        assert require_quorum(cosigned, [witness], 1)

        same_size_fork = honest.fork(25)
        assert (await cosign(client, same_size_fork, 40))[0] == 409
        grown_fork = honest.fork(25).grow(10)
        assert (await cosign(client, grown_fork, 40))[0] == 422
        rolled_back = honest.prefix(30)
        assert (await cosign(client, rolled_back, 30))[0] == 409
        assert (await cosign(client, rolled_back, 0))[0] == 409

        # The honest log goes on being cosigned.
        honest.grow(5)
        assert (await cosign(client, honest, 40))[0] == 200
        refused = await app.state.witness.storage.refusals()
    assert [status for _, status, _ in refused] == [409, 422]

    # A reader who requires the witness accepts only what the witness cosigned.
    for forged in (same_size_fork, grown_fork, rolled_back):
        with pytest.raises(QuorumError):
            require_quorum(forged.note(), [witness], 1)
    # Cosignature lines copied from the honest checkpoint do not fit the fork's.
    lines = cosigned.splitlines(keepends=True)[-1:]
    with pytest.raises(ValueError):
        require_quorum(merge_signature_lines(same_size_fork.note(), lines), [witness], 1)


async def test_a_second_witness_key_of_the_operator_counts_for_nothing(tmp_path: Path) -> None:
    # The operator runs his own "witness" and cosigns his fork: a reader counts only the
    # witnesses he trusts.
    honest = MemoryLog().grow(10)
    fork = honest.fork(3)
    own = make_witness_settings(
        tmp_path, [honest.vkey], name="witness.test/w1", signing_key=_seed(9)
    )
    trusted_app = create_app(make_witness_settings(tmp_path / "trusted", [honest.vkey]))
    trusted: CosignatureVerifier = trusted_app.state.witness.signer.verifier()
    async with running(create_app(own)) as client:
        client.base_url = httpx.URL(URL)
        status, fork_cosigned = await cosign(client, fork, 0)
    assert status == 200
    with pytest.raises(ValueError):
        # Same name as the trusted witness, other key: the key ID differs, so the line is
        # not the trusted witness's; none of his lines is present.
        require_quorum(fork_cosigned, [trusted], 1)


def _seed(n: int) -> str:
    return base64.b64encode(
        Ed25519PrivateKey.from_private_bytes(bytes([n]) * 32).private_bytes_raw()
    ).decode()
