"""C2SP tlog-tiles geometry: tile paths, which tiles a tree has, where each node lives.

Hand-written: the spec (c2sp.org/tlog-tiles) is a page of arithmetic, and its
implementations (golang.org/x/mod/sumdb/tlog, transparency-dev/tessera) are Go. This
module is pure arithmetic and byte slicing, with no storage and no I/O, so the log
writer, the read API and offline verifiers share one definition.

Geometry, with tile height 8: the tile ``(L, N)`` holds the hashes of tree nodes at
tree level ``8 * L`` with indexes ``N * 256`` to ``N * 256 + 255``; a partial tile holds
only the first ``width`` of them. A tree node at any other level is the subtree hash of
a power-of-two run of consecutive hashes in the tile below it (``tile_nodes_for``).
"""

import re
from collections.abc import Sequence
from typing import Final, Literal, TypeAlias

from shared.tlog.merkle import HASH_SIZE, Node, node_hash

TILE_HEIGHT: Final = 8
TILE_WIDTH: Final = 1 << TILE_HEIGHT
MAX_TILE_LEVEL: Final = 63
MAX_INDEX: Final = (1 << 64) - 1
MAX_ENTRY_SIZE: Final = 0xFFFF

ENTRIES: Final = "entries"
TileLevel: TypeAlias = int | Literal["entries"]
Tile: TypeAlias = tuple[int, int, int]
"""(level, index, width) of a hash tile; width 256 is a full tile."""

# Anchored by fullmatch; re.ASCII so that only 0-9 count as digits.
_TILE_PATH: Final = re.compile(
    r"tile/(?P<level>entries|0|[1-9][0-9]?)/"
    r"(?P<index>(?:x[0-9]{3}/)*[0-9]{3})"
    r"(?:\.p/(?P<width>[1-9][0-9]{0,2}))?",
    re.ASCII,
)
# 2**64 - 1 has 20 digits: seven groups of three.
_MAX_INDEX_GROUPS: Final = 7
_MAX_PATH_LENGTH: Final = 64


def _check_tile(level: int, index: int, width: int) -> None:
    if not 0 <= level <= MAX_TILE_LEVEL:
        raise ValueError(f"tile level {level} is not between 0 and {MAX_TILE_LEVEL}")
    if not 0 <= index <= MAX_INDEX:
        raise ValueError(f"tile index {index} is out of range")
    if not 1 <= width <= TILE_WIDTH:
        raise ValueError(f"tile width {width} is not between 1 and {TILE_WIDTH}")


def _encode_index(index: int) -> str:
    digits = str(index)
    digits = digits.zfill(-(-len(digits) // 3) * 3)
    groups = [digits[i : i + 3] for i in range(0, len(digits), 3)]
    return "/".join([*("x" + g for g in groups[:-1]), groups[-1]])


def _suffix(width: int) -> str:
    return "" if width == TILE_WIDTH else f".p/{width}"


def tile_path(level: int, index: int, width: int) -> str:
    """Return the path of a hash tile, e.g. tile/0/x001/x234/067.p/8."""
    _check_tile(level, index, width)
    return f"tile/{level}/{_encode_index(index)}{_suffix(width)}"


def entries_path(index: int, width: int) -> str:
    """Return the path of an entry bundle, e.g. tile/entries/x001/x234/067."""
    _check_tile(0, index, width)
    return f"tile/entries/{_encode_index(index)}{_suffix(width)}"


def parse_tile_path(path: str) -> tuple[TileLevel, int, int]:
    """Parse a canonical tile or entry bundle path into (level or "entries", index, width)."""
    match = _TILE_PATH.fullmatch(path) if len(path) <= _MAX_PATH_LENGTH else None
    if match is None:
        raise ValueError(f"not a tile path: {path[:_MAX_PATH_LENGTH]!r}")
    groups = match["index"].split("/")
    if len(groups) > _MAX_INDEX_GROUPS:
        raise ValueError("tile index is out of range")
    if len(groups) > 1 and groups[0] == "x000":
        raise ValueError("tile index has a leading zero group")
    index = int("".join(g.removeprefix("x") for g in groups))
    if match["width"] is None:
        width = TILE_WIDTH
    else:
        width = int(match["width"])
        if width >= TILE_WIDTH:
            raise ValueError(f"partial tile width {width} is not below {TILE_WIDTH}")
    level: TileLevel = ENTRIES if match["level"] == ENTRIES else int(match["level"])
    if isinstance(level, int) and level > MAX_TILE_LEVEL:
        raise ValueError(f"tile level {level} is above {MAX_TILE_LEVEL}")
    if index > MAX_INDEX:
        raise ValueError("tile index is out of range")
    return level, index, width


def tile_width(level: int, index: int, size: int) -> int:
    """Return the width of tile (level, index) in a tree of this size, 0 if it has none."""
    if level < 0 or index < 0 or size < 0:
        raise ValueError("tile level, tile index and tree size are never negative")
    count = size >> (TILE_HEIGHT * level)
    full = count >> TILE_HEIGHT
    if index < full:
        return TILE_WIDTH
    if index == full:
        return count & (TILE_WIDTH - 1)
    return 0


def tiles_for_size(size: int) -> list[Tile]:
    """Return every tile of a tree of this size, by level then index, with its width."""
    if size < 0:
        raise ValueError(f"tree size {size} is negative")
    tiles: list[Tile] = []
    level = 0
    count = size
    while count:
        full, partial = divmod(count, TILE_WIDTH)
        tiles.extend((level, index, TILE_WIDTH) for index in range(full))
        if partial:
            tiles.append((level, full, partial))
        level += 1
        count >>= TILE_HEIGHT
    return tiles


def tile_nodes(level: int, index: int, width: int) -> list[Node]:
    """Return the tree nodes whose hashes a tile holds, in order."""
    _check_tile(level, index, width)
    first = index << TILE_HEIGHT
    tree_level = level * TILE_HEIGHT
    return [(tree_level, first + position) for position in range(width)]


def node_tile(node: Node) -> tuple[int, int, int]:
    """Return (tile level, tile index, position) of a node at a tree level divisible by 8."""
    level, index = node
    if level < 0 or index < 0 or level % TILE_HEIGHT:
        raise ValueError(f"node {node} is not stored in a tile")
    return level // TILE_HEIGHT, index >> TILE_HEIGHT, index & (TILE_WIDTH - 1)


def tile_nodes_for(node: Node) -> tuple[int, int, int, int]:
    """Return (tile level, tile index, first position, count) of the hashes under a node."""
    level, index = node
    if level < 0 or index < 0:
        raise ValueError(f"node {node} is not a tree node")
    tile_level, height = divmod(level, TILE_HEIGHT)
    first = index << height
    return tile_level, first >> TILE_HEIGHT, first & (TILE_WIDTH - 1), 1 << height


def subtree_hash(hashes: Sequence[bytes]) -> bytes:
    """Return the hash of the perfect subtree over a power-of-two run of hashes."""
    n = len(hashes)
    if n == 0 or n & (n - 1):
        raise ValueError(f"{n} hashes do not make a perfect subtree")
    layer = list(hashes)
    while len(layer) > 1:
        layer = [node_hash(layer[i], layer[i + 1]) for i in range(0, len(layer), 2)]
    return layer[0]


def split_hash_tile(data: bytes) -> list[bytes]:
    """Split a hash tile into its 1 to 256 hashes of 32 bytes."""
    count, extra = divmod(len(data), HASH_SIZE)
    if extra or not 1 <= count <= TILE_WIDTH:
        raise ValueError(f"{len(data)} bytes is not a hash tile")
    return [data[i : i + HASH_SIZE] for i in range(0, len(data), HASH_SIZE)]


def encode_entry_bundle(entries: Sequence[bytes]) -> bytes:
    """Encode 1 to 256 entries, each prefixed by its length as a big-endian uint16."""
    if not 1 <= len(entries) <= TILE_WIDTH:
        raise ValueError(f"an entry bundle holds 1 to {TILE_WIDTH} entries, not {len(entries)}")
    parts: list[bytes] = []
    for entry in entries:
        if len(entry) > MAX_ENTRY_SIZE:
            raise ValueError(f"entry of {len(entry)} bytes does not fit a uint16 length")
        parts.append(len(entry).to_bytes(2, "big"))
        parts.append(entry)
    return b"".join(parts)


def decode_entry_bundle(data: bytes) -> list[bytes]:
    """Decode an entry bundle; ValueError if it is truncated, empty or over 256 entries."""
    entries: list[bytes] = []
    view = memoryview(data)
    offset, end = 0, len(data)
    while offset < end:
        if len(entries) == TILE_WIDTH:
            raise ValueError(f"entry bundle holds more than {TILE_WIDTH} entries")
        if end - offset < 2:
            raise ValueError("entry bundle ends inside a length prefix")
        length = int.from_bytes(view[offset : offset + 2], "big")
        offset += 2
        if end - offset < length:
            raise ValueError("entry bundle ends inside an entry")
        entries.append(bytes(view[offset : offset + length]))
        offset += length
    if not entries:
        raise ValueError("entry bundle is empty")
    return entries
