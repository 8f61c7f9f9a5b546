"""Fixtures for the witness: a running witness in-process, and small logs to feed it."""

import base64
import hashlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI

from services.witness.app import create_app
from services.witness.settings import WitnessSettings
from shared.tlog import merkle
from shared.tlog.checkpoint import Checkpoint, sign_checkpoint
from shared.tlog.cosignature import CosignatureVerifier
from shared.tlog.note import Signer, verifier_key
from shared.tlog.witness_protocol import format_add_checkpoint
from tests.conftest import SettingsFactory, running
from tests.release.port import Port, make_port


class MemoryLog:
    """A log held in memory: leaves, signed checkpoints and consistency proofs."""

    def __init__(self, origin: str = "example.test/log", seed: bytes = b"\1" * 32) -> None:
        self.signer = Signer(origin, Ed25519PrivateKey.from_private_bytes(seed))
        self.leaves: list[bytes] = []

    @property
    def vkey(self) -> str:
        return verifier_key(self.signer.name, self.signer.public_key)

    def grow(self, count: int, tag: str = "") -> "MemoryLog":
        start = len(self.leaves)
        self.leaves += [
            merkle.leaf_hash(f"{tag}entry {n}".encode()) for n in range(start, start + count)
        ]
        return self

    def fork(self, at: int, tag: str = "forked ") -> "MemoryLog":
        """Another log under the same key: the first `at` entries, then different ones."""
        other = MemoryLog(self.signer.name)
        other.signer = self.signer
        other.leaves = list(self.leaves[:at])
        return other.grow(len(self.leaves) - at, tag)

    def prefix(self, size: int) -> "MemoryLog":
        """The same log as it was at `size` entries (what a restored backup would show)."""
        other = MemoryLog(self.signer.name)
        other.signer = self.signer
        other.leaves = list(self.leaves[:size])
        return other

    def root(self, size: int | None = None) -> bytes:
        return merkle.root_from_leaf_hashes(
            self.leaves[: len(self.leaves) if size is None else size]
        )

    def note(self, size: int | None = None) -> str:
        size = len(self.leaves) if size is None else size
        return sign_checkpoint(Checkpoint(self.signer.name, size, self.root(size)), self.signer)

    def proof(self, old: int, new: int | None = None) -> list[bytes]:
        new = len(self.leaves) if new is None else new
        if not 0 < old < new:
            return []

        def node(n: tuple[int, int]) -> bytes:
            level, index = n
            return merkle.root_from_leaf_hashes(self.leaves[index << level : (index + 1) << level])

        return merkle.build_proof_sync(merkle.consistency_proof_plan(old, new), node)

    def request(self, old: int, new: int | None = None) -> bytes:
        return format_add_checkpoint(old, self.proof(old, new), self.note(new))


WITNESS_SEED = hashlib.sha256(b"test witness").digest()


@pytest.fixture
def memory_log() -> MemoryLog:
    return MemoryLog().grow(10)


WitnessFactory = Callable[..., WitnessSettings]


def make_witness_settings(folder: Path, logs: list[str], **overrides: Any) -> WitnessSettings:
    """A test witness keeping its file in `folder`, watching the logs of these keys."""
    values: dict[str, Any] = {
        "name": "witness.test/w1",
        "signing_key": base64.b64encode(WITNESS_SEED).decode(),
        "database_path": folder / "witness.sqlite3",
        "logs": logs,
    }
    values.update(overrides)
    return WitnessSettings(**values)


@pytest.fixture
def witness_settings(tmp_path: Path) -> WitnessFactory:
    def build(logs: list[str], **overrides: Any) -> WitnessSettings:
        return make_witness_settings(tmp_path, logs, **overrides)

    return build


@pytest.fixture
async def witness(
    witness_settings: WitnessFactory, memory_log: MemoryLog
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """A witness watching `memory_log`, running, with a client."""
    app = create_app(witness_settings([memory_log.vkey]))
    async with running(app) as client:
        yield app, client


def witness_cosigner(app: FastAPI) -> CosignatureVerifier:
    verifier: CosignatureVerifier = app.state.witness.signer.verifier()
    return verifier


@pytest.fixture
async def port(make_settings: SettingsFactory) -> AsyncIterator[Port]:
    """Both services with the members of a chain (as in the release tests)."""
    async with make_port(make_settings) as port:
        yield port
