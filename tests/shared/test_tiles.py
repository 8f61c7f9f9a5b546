"""C2SP tlog-tiles geometry: paths, tiles of a tree, node lookup, bundles and hash tiles."""

from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.tlog.merkle import CompactRange, Node, leaf_hash, node_hash
from shared.tlog.tiles import (
    MAX_INDEX,
    TILE_HEIGHT,
    TILE_WIDTH,
    decode_entry_bundle,
    encode_entry_bundle,
    entries_path,
    node_tile,
    parse_tile_path,
    split_hash_tile,
    subtree_hash,
    tile_nodes,
    tile_nodes_for,
    tile_path,
    tile_width,
    tiles_for_size,
)

# --- Paths -------------------------------------------------------------------------


def test_tile_index_is_written_in_groups_of_three_digits_as_in_the_spec() -> None:
    # c2sp.org/tlog-tiles: "index 1234067 will be encoded as x001/x234/067".
    assert tile_path(0, 1234067, 256) == "tile/0/x001/x234/067"
    assert tile_path(0, 1234067, 8) == "tile/0/x001/x234/067.p/8"
    assert entries_path(1234067, 256) == "tile/entries/x001/x234/067"
    assert entries_path(1234067, 255) == "tile/entries/x001/x234/067.p/255"


@pytest.mark.parametrize(
    ("level", "index", "width", "path"),
    [
        (0, 0, 256, "tile/0/000"),
        (0, 0, 1, "tile/0/000.p/1"),
        (3, 999, 256, "tile/3/999"),
        (1, 1000, 17, "tile/1/x001/000.p/17"),
        (63, 5, 256, "tile/63/005"),
        (0, MAX_INDEX, 256, "tile/0/x018/x446/x744/x073/x709/x551/615"),
    ],
)
def test_tile_path_and_parse_agree_on_examples(
    level: int, index: int, width: int, path: str
) -> None:
    assert tile_path(level, index, width) == path
    assert parse_tile_path(path) == (level, index, width)


tile_levels = st.integers(min_value=0, max_value=63)
tile_indexes = st.integers(min_value=0, max_value=MAX_INDEX)
tile_widths = st.integers(min_value=1, max_value=TILE_WIDTH)


@given(level=tile_levels, index=tile_indexes, width=tile_widths)
def test_parse_undoes_tile_path(level: int, index: int, width: int) -> None:
    assert parse_tile_path(tile_path(level, index, width)) == (level, index, width)


@given(index=tile_indexes, width=tile_widths)
def test_parse_undoes_entries_path(index: int, width: int) -> None:
    assert parse_tile_path(entries_path(index, width)) == ("entries", index, width)


@pytest.mark.parametrize(
    "path",
    [
        "",
        "tile/0/",
        "tile/0/1234067",  # not split into groups
        "tile/0/01",  # group of two digits
        "tile/0/0000",
        "tile/00/000",  # level with a leading zero
        "tile/64/000",  # level above 63
        "tile/-1/000",
        "tile/x/000",
        "tile/0/x000/123",  # leading zero group: 123 is written 123
        "tile/0/x001",  # last group has no x
        "tile/0/001/002",  # inner group without x
        "tile/0/x001/x002",
        "tile/0/X001/002",
        "tile/0/x1000/000",
        "tile/0/000.p/0",  # width 0
        "tile/0/000.p/256",  # a full tile has no .p
        "tile/0/000.p/300",
        "tile/0/000.p/08",  # width with a leading zero
        "tile/0/000.p/",
        "tile/0/000.p/1/",
        "tile/0/000.P/1",
        "tile/0/000.p/ 1",
        "tile/0/000.p",
        "tile/entries/000.p/0",
        "tile/entries/x000/001",
        "/tile/0/000",
        "tile/0/000/",
        "tile/0//000",
        "tile/0/000\n",
        " tile/0/000",
        "tile/0/../000",
        "TILE/0/000",
        "tile/0/+12",
        "tile/0/١٢٣",  # Arabic-Indic digits are digits to str.isdigit, not to the spec
        "tile/0/x018/x446/x744/x073/x709/x551/616",  # 2**64
        "tile/0/" + "x999/" * 7 + "999",
        "tile/0/" + "x001/" * 40 + "000",
    ],
)
def test_parse_refuses_non_canonical_or_hostile_paths(path: str) -> None:
    with pytest.raises(ValueError):
        parse_tile_path(path)


@pytest.mark.parametrize(
    ("level", "index", "width"),
    [(-1, 0, 256), (64, 0, 256), (0, -1, 256), (0, MAX_INDEX + 1, 256), (0, 0, 0), (0, 0, 257)],
)
def test_tile_path_refuses_coordinates_outside_the_spec(level: int, index: int, width: int) -> None:
    with pytest.raises(ValueError):
        tile_path(level, index, width)


def test_entries_path_refuses_widths_outside_the_spec() -> None:
    with pytest.raises(ValueError):
        entries_path(0, 0)
    with pytest.raises(ValueError):
        entries_path(0, 257)


# --- Tiles of a tree ---------------------------------------------------------------


def test_tiles_of_a_tree_of_70000_leaves_are_those_the_spec_lists() -> None:
    # c2sp.org/tlog-tiles: 273 full level 0 tiles, a partial one of width 112, one full
    # level 1 tile, a partial one of width 17 and a partial level 2 tile of width 1.
    tiles = tiles_for_size(70_000)
    assert tiles[:273] == [(0, i, 256) for i in range(273)]
    assert tiles[273:] == [(0, 273, 112), (1, 0, 256), (1, 1, 17), (2, 0, 1)]


def test_tiles_of_small_trees() -> None:
    assert tiles_for_size(0) == []
    assert tiles_for_size(1) == [(0, 0, 1)]
    assert tiles_for_size(255) == [(0, 0, 255)]
    assert tiles_for_size(256) == [(0, 0, 256), (1, 0, 1)]  # the spec's other example
    assert tiles_for_size(257) == [(0, 0, 256), (0, 1, 1), (1, 0, 1)]


@settings(max_examples=50)
@given(size=st.integers(min_value=0, max_value=300_000))
def test_tile_width_agrees_with_the_tiles_of_the_tree(size: int) -> None:
    tiles = tiles_for_size(size)
    per_level = Counter(level for level, _, _ in tiles)
    for level, index, width in tiles:
        assert tile_width(level, index, size) == width
        assert width == TILE_WIDTH or index == per_level[level] - 1
    top = tiles[-1][0] if tiles else 0
    assert tile_width(top + 1, 0, size) == 0
    assert tile_width(0, (size >> TILE_HEIGHT) + 1, size) == 0


def test_tile_nodes_are_the_tree_nodes_at_eight_times_the_tile_level() -> None:
    assert tile_nodes(0, 2, 3) == [(0, 512), (0, 513), (0, 514)]
    assert tile_nodes(2, 1, 1) == [(16, 256)]


# --- Node lookup against a reference tree ------------------------------------------

SIZE = 70_000


def _perfect_node_table(leaves: list[bytes]) -> dict[Node, bytes]:
    table: dict[Node, bytes] = {}
    layer, level = leaves, 0
    while layer:
        for index, h in enumerate(layer):
            table[(level, index)] = h
        layer = [node_hash(layer[i], layer[i + 1]) for i in range(0, len(layer) - 1, 2)]
        level += 1
    return table


TABLE = _perfect_node_table([leaf_hash(i.to_bytes(4, "big")) for i in range(SIZE)])
TILES = {
    (level, index): b"".join(TABLE[n] for n in tile_nodes(level, index, width))
    for level, index, width in tiles_for_size(SIZE)
}
TILE_HASHES = {key: split_hash_tile(data) for key, data in TILES.items()}


def sample_indexes(level: int) -> range | list[int]:
    """All node indexes of a tree level when few, else both ends and a stride through it."""
    count = SIZE >> level
    if count <= 600:
        return range(count)
    return [*range(256), *range(256, count - 256, 97), *range(count - 256, count)]


def test_each_hash_of_a_tile_is_the_subtree_hash_of_a_full_tile_below() -> None:
    for (level, index), hashes in TILE_HASHES.items():
        if level == 0:
            continue
        for position, h in enumerate(hashes):
            below = TILE_HASHES[(level - 1, index * TILE_WIDTH + position)]
            assert len(below) == TILE_WIDTH
            assert subtree_hash(below) == h


@pytest.mark.parametrize("level", range(0, 17))
def test_every_perfect_node_can_be_rebuilt_from_the_tile_below(level: int) -> None:
    for index in sample_indexes(level):
        tile_level, tile_index, first, n = tile_nodes_for((level, index))
        assert n == 1 << (level % TILE_HEIGHT)
        assert first % n == 0
        assert first + n <= tile_width(tile_level, tile_index, SIZE)
        hashes = TILE_HASHES[(tile_level, tile_index)]
        assert subtree_hash(hashes[first : first + n]) == TABLE[(level, index)], (level, index)


@pytest.mark.parametrize("level", [0, 8, 16])
def test_nodes_at_tile_levels_are_read_directly_from_one_tile(level: int) -> None:
    for index in sample_indexes(level):
        tile_level, tile_index, position = node_tile((level, index))
        assert (tile_level, tile_index, position, 1) == tile_nodes_for((level, index))
        assert TILE_HASHES[(tile_level, tile_index)][position] == TABLE[(level, index)]


def test_the_tiles_hold_every_frontier_node_of_the_tree() -> None:
    for node in CompactRange.frontier_nodes(SIZE):
        tile_level, tile_index, first, n = tile_nodes_for(node)
        hashes = TILE_HASHES[(tile_level, tile_index)]
        assert subtree_hash(hashes[first : first + n]) == TABLE[node]


@pytest.mark.parametrize("node", [(1, 0), (7, 3), (9, 0), (0, -1), (-8, 0)])
def test_node_tile_refuses_nodes_between_tile_levels(node: Node) -> None:
    with pytest.raises(ValueError):
        node_tile(node)


def test_subtree_hash_needs_a_power_of_two_run() -> None:
    a, b, c, d = (bytes([i]) * 32 for i in range(4))
    assert subtree_hash([a]) == a
    assert subtree_hash([a, b, c, d]) == node_hash(node_hash(a, b), node_hash(c, d))
    for bad in ([], [a, b, c]):
        with pytest.raises(ValueError):
            subtree_hash(bad)


# --- Entry bundles and hash tiles --------------------------------------------------


def test_entry_bundle_prefixes_each_entry_with_a_big_endian_uint16_length() -> None:
    assert encode_entry_bundle([b"ab", b"", b"\xff" * 258]) == (
        b"\x00\x02ab" + b"\x00\x00" + b"\x01\x02" + b"\xff" * 258
    )


@given(st.lists(st.binary(max_size=40), min_size=1, max_size=40))
def test_decode_undoes_encode_entry_bundle(entries: list[bytes]) -> None:
    assert decode_entry_bundle(encode_entry_bundle(entries)) == entries


def test_largest_entry_fits_and_a_larger_one_is_refused() -> None:
    largest = b"\x00" * 0xFFFF
    assert decode_entry_bundle(encode_entry_bundle([largest])) == [largest]
    with pytest.raises(ValueError):
        encode_entry_bundle([largest + b"\x00"])


@pytest.mark.parametrize("count", [0, TILE_WIDTH + 1])
def test_bundle_of_no_entries_or_too_many_is_refused(count: int) -> None:
    with pytest.raises(ValueError):
        encode_entry_bundle([b"x"] * count)
    with pytest.raises(ValueError):
        decode_entry_bundle(b"\x00\x01x" * count)


@pytest.mark.parametrize("data", [b"\x00", b"\x00\x05ab", b"\x00\x01a\x00", b"\x00\x02a"])
def test_truncated_entry_bundle_is_refused(data: bytes) -> None:
    with pytest.raises(ValueError):
        decode_entry_bundle(data)


def test_entries_of_a_bundle_hash_to_the_level_zero_tile() -> None:
    entries = [i.to_bytes(4, "big") for i in range(TILE_WIDTH)]
    decoded = decode_entry_bundle(encode_entry_bundle(entries))
    assert b"".join(leaf_hash(e) for e in decoded) == TILES[(0, 0)]


@given(st.lists(st.binary(min_size=32, max_size=32), min_size=1, max_size=20))
def test_split_hash_tile_undoes_concatenation(hashes: list[bytes]) -> None:
    assert split_hash_tile(b"".join(hashes)) == hashes


@pytest.mark.parametrize("length", [0, 31, 33, 32 * TILE_WIDTH + 1, 32 * (TILE_WIDTH + 1)])
def test_hash_tile_of_a_wrong_length_is_refused(length: int) -> None:
    with pytest.raises(ValueError):
        split_hash_tile(b"\x00" * length)
