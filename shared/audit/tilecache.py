"""An in-process, bounded cache of hash tiles with their interior nodes.

A log only grows, so the first `w` hashes of a tile never change: a cached tile (full, or
a partial prefix) stays right forever, and a wider copy simply replaces a narrower one.
Each cached tile keeps the hashes of every complete subtree inside it (levels 0 to 8, one
bytes object per level, 16 KiB for a full tile), so a proof's nodes are slices, not
re-hashing. Least recently used tiles are dropped past the bound: memory does not grow
with the log.
"""

import hashlib
from collections import OrderedDict

HASH = 32
TileKey = tuple[int, int]
_NODE_PREFIX = b"\x01"


def _level_above(below: bytes) -> bytes:
    """The RFC 9162 node hashes of each pair of adjacent hashes (an odd last one is left out).

    `merkle.node_hash` inlined: a tile read with no cache hashes about 250 pairs per full tile,
    and one slice per pair with no function call takes a fifth off that (measured in
    loadtests/audit_cold_proofs.py).
    """
    sha256 = hashlib.sha256
    pair = 2 * HASH
    return b"".join(
        [
            sha256(_NODE_PREFIX + below[i : i + pair]).digest()
            for i in range(0, len(below) - HASH, pair)
        ]
    )


class Tile:
    """The stored hashes of one tile and the complete subtrees above them."""

    __slots__ = ("levels", "width")

    def __init__(self, data: bytes) -> None:
        if len(data) % HASH:
            raise ValueError("a hash tile is a whole number of 32-byte hashes")
        self.width = len(data) // HASH
        levels = [data]
        while len(levels[-1]) >= 2 * HASH:
            levels.append(_level_above(levels[-1]))
        self.levels = levels

    def node(self, height: int, position: int) -> bytes | None:
        """The hash of the subtree of 2**height hashes starting at position * 2**height."""
        if height >= len(self.levels):
            return None
        level = self.levels[height]
        start = position * HASH
        return level[start : start + HASH] if start + HASH <= len(level) else None

    @property
    def hashes(self) -> bytes:
        """The tile's own hashes, as served."""
        return self.levels[0]


class TileCache:
    """Bounded LRU of tiles; `max_tiles=0` caches nothing."""

    def __init__(self, max_tiles: int = 4096) -> None:
        self._tiles: OrderedDict[TileKey, Tile] = OrderedDict()
        self._max = max_tiles

    def get(self, key: TileKey, min_width: int) -> Tile | None:
        """A cached tile holding at least `min_width` hashes, or None."""
        tile = self._tiles.get(key)
        if tile is None or tile.width < min_width:
            return None
        self._tiles.move_to_end(key)
        return tile

    def put(self, key: TileKey, data: bytes) -> Tile:
        """Remember a tile read from storage (a narrower copy never replaces a wider one)."""
        cached = self._tiles.get(key)
        if cached is not None and cached.width >= len(data) // HASH:
            return cached
        tile = Tile(data)
        if self._max > 0:
            self._tiles[key] = tile
            self._tiles.move_to_end(key)
            while len(self._tiles) > self._max:
                self._tiles.popitem(last=False)
        return tile

    def clear(self) -> None:
        """Forget everything (tests that tamper with stored tiles use this)."""
        self._tiles.clear()

    def __len__(self) -> int:
        return len(self._tiles)
