"""The tile cache: interiors equal the reference tree, prefixes only grow, memory is bounded."""

import base64
import hashlib

import httpx
from fastapi import FastAPI
from hypothesis import given
from hypothesis import strategies as st

from shared.audit import repository as repo
from shared.audit.tilecache import Tile, TileCache
from shared.tlog import merkle
from tests.audit_helpers import append_events, integrate_all, parts


def leaves(count: int, seed: int = 0) -> list[bytes]:
    return [hashlib.sha256(f"{seed}:{i}".encode()).digest() for i in range(count)]


@given(st.integers(min_value=1, max_value=256))
def test_every_complete_subtree_of_a_tile_equals_the_reference(width: int) -> None:
    hashes = leaves(width)
    tile = Tile(b"".join(hashes))
    assert tile.width == width
    for height in range(9):
        span = 1 << height
        for position in range(width // span):
            expected = merkle.root_from_leaf_hashes(hashes[position * span : (position + 1) * span])
            assert tile.node(height, position) == expected
        assert tile.node(height, width // span) is None  # incomplete: not there


def test_a_narrower_copy_never_replaces_a_wider_one_and_the_bound_holds() -> None:
    cache = TileCache(max_tiles=2)
    wide = b"".join(leaves(10))
    cache.put((0, 0), wide)
    cache.put((0, 0), wide[: 4 * 32])
    cached = cache.get((0, 0), 10)
    assert cached is not None and cached.width == 10
    assert cache.get((0, 0), 11) is None
    cache.put((0, 1), wide)
    cache.put((0, 2), wide)
    assert len(cache) == 2
    assert cache.get((0, 0), 1) is None  # least recently used went first
    nothing = TileCache(max_tiles=0)
    nothing.put((0, 0), wide)
    assert len(nothing) == 0


async def test_proofs_stay_right_as_a_cached_partial_tile_grows(
    release_app: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    app, client = release_app
    sessions, _ = parts(app)
    await append_events(sessions, 10, per_transaction=10)
    await integrate_all(app)
    first = await client.get("/v1/log/proofs/inclusion", params={"index": 3, "size": 10})
    assert first.status_code == 200
    await append_events(sessions, 30, per_transaction=30)
    await integrate_all(app)
    grown = await client.get("/v1/log/proofs/inclusion", params={"index": 3, "size": 40})
    assert grown.status_code == 200, grown.text
    async with sessions() as session:
        entries = await repo.entries(session, 0, 40)
    root = merkle.root_from_leaf_hashes([merkle.leaf_hash(e) for e in entries])
    proof = [base64.b64decode(h) for h in grown.json()["proof"]]
    assert merkle.verify_inclusion(merkle.leaf_hash(entries[3]), 3, 40, proof, root)
