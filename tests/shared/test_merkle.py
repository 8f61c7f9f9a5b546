"""RFC 9162 Merkle tree: published vectors, exhaustive small trees, properties of large ones.

The reference functions here (ref_mth, ref_path, ref_subproof) follow the RFC's
recursive definitions literally over a table of perfect-subtree hashes, and share no
code with the plans, folds and compact range they check.
"""

import hashlib
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.tlog.merkle import (
    EMPTY_ROOT,
    CompactRange,
    Node,
    build_proof,
    build_proof_sync,
    consistency_proof_plan,
    fold,
    inclusion_proof_plan,
    leaf_hash,
    node_hash,
    range_nodes,
    root_from_inclusion_proof,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)

# --- Published vectors -------------------------------------------------------------
# From transparency-dev/merkle, proof/verify_test.go (the Certificate Transparency test
# tree, also in google/certificate-transparency): eight leaves and the roots of the trees
# of size 1 to 8. In that file inclusion vectors name leaves 1-based ({1, 8} is leaf 0 of
# 8); they are converted to 0-based indexes here.

CT_LEAVES = [
    bytes.fromhex(h)
    for h in [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ]
]
CT_ROOTS = [
    bytes.fromhex(h)
    for h in [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ]
]


def _hashes(*hexes: str) -> list[bytes]:
    return [bytes.fromhex(h) for h in hexes]


# (0-based leaf index, tree size, proof)
CT_INCLUSION_PROOFS = [
    (0, 1, []),
    (
        0,
        8,
        _hashes(
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ),
    ),
    (
        5,
        8,
        _hashes(
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ),
    ),
    (2, 3, _hashes("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125")),
    (
        1,
        5,
        _hashes(
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ),
    ),
]

# (old size, new size, proof)
CT_CONSISTENCY_PROOFS = [
    (1, 1, []),
    (
        1,
        8,
        _hashes(
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ),
    ),
    (
        6,
        8,
        _hashes(
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ),
    ),
    (
        2,
        5,
        _hashes(
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ),
    ),
    (
        6,
        7,
        _hashes(
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ),
    ),
]

# --- Reference tree ----------------------------------------------------------------


def perfect_node_table(leaves: Sequence[bytes]) -> dict[Node, bytes]:
    """Every complete perfect subtree of the tree over these leaf hashes."""
    table: dict[Node, bytes] = {}
    layer = list(leaves)
    level = 0
    while layer:
        for index, h in enumerate(layer):
            table[(level, index)] = h
        layer = [node_hash(layer[i], layer[i + 1]) for i in range(0, len(layer) - 1, 2)]
        level += 1
    return table


def ref_mth(table: dict[Node, bytes], lo: int, hi: int) -> bytes:
    """MTH(D[lo:hi]) by the RFC's recursion, perfect subtrees read from the table."""
    n = hi - lo
    if n & (n - 1) == 0 and lo % n == 0:
        level = n.bit_length() - 1
        return table[(level, lo >> level)]
    k = 1
    while k * 2 < n:
        k *= 2
    return node_hash(ref_mth(table, lo, lo + k), ref_mth(table, lo + k, hi))


def ref_path(table: dict[Node, bytes], m: int, lo: int, hi: int) -> list[bytes]:
    """PATH(m, D[lo:hi]) as written in RFC 9162 section 2.1.3.1 (m relative to lo)."""
    n = hi - lo
    if n == 1:
        return []
    k = 1
    while k * 2 < n:
        k *= 2
    if m < k:
        return [*ref_path(table, m, lo, lo + k), ref_mth(table, lo + k, hi)]
    return [*ref_path(table, m - k, lo + k, hi), ref_mth(table, lo, lo + k)]


def ref_subproof(table: dict[Node, bytes], m: int, lo: int, hi: int, b: bool) -> list[bytes]:
    """SUBPROOF(m, D[lo:hi], b) as written in RFC 9162 section 2.1.4.1."""
    n = hi - lo
    if m == n:
        return [] if b else [ref_mth(table, lo, hi)]
    k = 1
    while k * 2 < n:
        k *= 2
    if m <= k:
        return [*ref_subproof(table, m, lo, lo + k, b), ref_mth(table, lo + k, hi)]
    return [*ref_subproof(table, m - k, lo + k, hi, False), ref_mth(table, lo, lo + k)]


def flip_bit(h: bytes, bit: int = 0) -> bytes:
    return bytes([h[0] ^ (1 << bit), *h[1:]])


CT_LEAF_HASHES = [leaf_hash(d) for d in CT_LEAVES]
CT_TABLE = perfect_node_table(CT_LEAF_HASHES)

BIG = 5000
BIG_LEAVES = [leaf_hash(i.to_bytes(4, "big")) for i in range(BIG)]
BIG_TABLE = perfect_node_table(BIG_LEAVES)
SMALL = 64
SMALL_LEAVES = BIG_LEAVES[:SMALL]
SMALL_TABLE = perfect_node_table(SMALL_LEAVES)
SMALL_ROOTS = [EMPTY_ROOT] + [ref_mth(SMALL_TABLE, 0, n) for n in range(1, SMALL + 1)]

# --- Hashing -----------------------------------------------------------------------


def test_empty_root_is_sha256_of_the_empty_string() -> None:
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert root_from_leaf_hashes([]) == EMPTY_ROOT


def test_leaf_and_node_hashes_carry_distinct_prefixes() -> None:
    a, b = b"\x11" * 32, b"\x22" * 32
    assert leaf_hash(a + b) == hashlib.sha256(b"\x00" + a + b).digest()
    assert node_hash(a, b) == hashlib.sha256(b"\x01" + a + b).digest()
    assert leaf_hash(a + b) != node_hash(a, b)


@pytest.mark.parametrize("size", range(1, 9))
def test_root_of_the_ct_test_tree_matches_the_published_root(size: int) -> None:
    assert root_from_leaf_hashes(CT_LEAF_HASHES[:size]) == CT_ROOTS[size - 1]


@pytest.mark.parametrize("size", range(1, 9))
def test_compact_range_of_the_ct_test_tree_matches_the_published_root(size: int) -> None:
    tree = CompactRange.empty()
    for h in CT_LEAF_HASHES[:size]:
        tree.append(h)
    assert tree.root() == CT_ROOTS[size - 1]


@pytest.mark.parametrize(("index", "size", "proof"), CT_INCLUSION_PROOFS)
def test_inclusion_proof_of_the_ct_test_tree_matches_the_published_proof(
    index: int, size: int, proof: list[bytes]
) -> None:
    plan = inclusion_proof_plan(index, size)
    assert build_proof_sync(plan, CT_TABLE.__getitem__) == proof
    assert verify_inclusion(CT_LEAF_HASHES[index], index, size, proof, CT_ROOTS[size - 1])


@pytest.mark.parametrize(("old", "new", "proof"), CT_CONSISTENCY_PROOFS)
def test_consistency_proof_of_the_ct_test_tree_matches_the_published_proof(
    old: int, new: int, proof: list[bytes]
) -> None:
    plan = consistency_proof_plan(old, new)
    assert build_proof_sync(plan, CT_TABLE.__getitem__) == proof
    assert verify_consistency(old, new, CT_ROOTS[old - 1], CT_ROOTS[new - 1], proof)


# --- Geometry ----------------------------------------------------------------------


def test_range_nodes_splits_a_range_into_perfect_subtrees_largest_first() -> None:
    assert range_nodes(0, 7) == [(2, 0), (1, 2), (0, 6)]
    assert range_nodes(8, 13) == [(2, 2), (0, 12)]
    assert range_nodes(16, 32) == [(4, 1)]
    assert range_nodes(5, 6) == [(0, 5)]


@pytest.mark.parametrize(("start", "end"), [(3, 3), (4, 3), (-1, 2), (1, 3), (4, 12), (2, 6)])
def test_range_nodes_refuses_empty_or_unaligned_ranges(start: int, end: int) -> None:
    with pytest.raises(ValueError):
        range_nodes(start, end)


def test_fold_hashes_right_to_left() -> None:
    a, b, c = (bytes([i]) * 32 for i in (1, 2, 3))
    assert fold([a]) == a
    assert fold([a, b, c]) == node_hash(a, node_hash(b, c))
    with pytest.raises(ValueError):
        fold([])


def test_frontier_nodes_are_the_binary_decomposition_of_the_size() -> None:
    assert CompactRange.frontier_nodes(0) == []
    assert CompactRange.frontier_nodes(1) == [(0, 0)]
    assert CompactRange.frontier_nodes(6) == [(2, 0), (1, 2)]
    assert CompactRange.frontier_nodes(13) == [(3, 0), (2, 2), (0, 12)]


@pytest.mark.parametrize(("index", "size"), [(0, 0), (1, 1), (5, 3), (-1, 4)])
def test_inclusion_plan_refuses_an_index_outside_the_tree(index: int, size: int) -> None:
    with pytest.raises(ValueError):
        inclusion_proof_plan(index, size)


@pytest.mark.parametrize(("old", "new"), [(0, 0), (0, 5), (6, 5), (-1, 3)])
def test_consistency_plan_refuses_an_empty_old_tree_or_a_shrinking_tree(old: int, new: int) -> None:
    with pytest.raises(ValueError):
        consistency_proof_plan(old, new)


def test_consistency_plan_between_equal_sizes_is_empty() -> None:
    assert consistency_proof_plan(7, 7) == []


def test_plans_use_the_larger_perfect_subtrees_for_ragged_right_edges() -> None:
    # PATH(0, D[7]) ends with MTH(D[4:7]) = node(D[4:6], D[6]).
    assert inclusion_proof_plan(0, 7) == [[(0, 1)], [(1, 1)], [(1, 2), (0, 6)]]
    # PROOF(3, D[7]) = [D[2], D[3], D[0:2], MTH(D[4:7])].
    assert consistency_proof_plan(3, 7) == [[(0, 2)], [(0, 3)], [(1, 0)], [(1, 2), (0, 6)]]


# --- Every proof in trees of up to 64 leaves ---------------------------------------


def _inclusion_holds(index: int, size: int, proof: list[bytes], root: bytes) -> bool:
    return verify_inclusion(SMALL_LEAVES[index], index, size, proof, root)


def test_every_inclusion_proof_up_to_64_leaves_is_the_rfc_path_and_verifies() -> None:
    for size in range(1, SMALL + 1):
        root = SMALL_ROOTS[size]
        for index in range(size):
            proof = build_proof_sync(inclusion_proof_plan(index, size), SMALL_TABLE.__getitem__)
            assert proof == ref_path(SMALL_TABLE, index, 0, size), (index, size)
            assert _inclusion_holds(index, size, proof, root), (index, size)
            assert root_from_inclusion_proof(SMALL_LEAVES[index], index, size, proof) == root


def test_every_inclusion_proof_up_to_64_leaves_fails_when_tampered() -> None:
    for size in range(1, SMALL + 1):
        root = SMALL_ROOTS[size]
        for index in range(size):
            proof = build_proof_sync(inclusion_proof_plan(index, size), SMALL_TABLE.__getitem__)
            for i in range(len(proof)):
                bad = [*proof[:i], flip_bit(proof[i], i % 8), *proof[i + 1 :]]
                assert not _inclusion_holds(index, size, bad, root), (index, size, i)
            leaf = SMALL_LEAVES[index]
            for other in (index - 1, index + 1, index ^ 2):
                if 0 <= other < size and other != index:
                    assert not verify_inclusion(leaf, other, size, proof, root), (index, size)
            # Only a size with another path shape must fail: see the test on tree sizes below.
            for other_size in (size // 2, size * 2):
                assert not verify_inclusion(leaf, index, other_size, proof, root), (index, size)
            assert not _inclusion_holds(index, size, proof, flip_bit(root))
            assert not _inclusion_holds(index, size, proof, SMALL_ROOTS[size - 1])
            assert not verify_inclusion(flip_bit(leaf), index, size, proof, root)
            assert not _inclusion_holds(index, size, [*proof, root], root)
            assert not _inclusion_holds(index, size, [root, *proof], root)
            if proof:
                assert not _inclusion_holds(index, size, proof[:-1], root)


def test_every_consistency_proof_up_to_64_leaves_is_the_rfc_subproof_and_verifies() -> None:
    for new in range(1, SMALL + 1):
        for old in range(1, new + 1):
            proof = build_proof_sync(consistency_proof_plan(old, new), SMALL_TABLE.__getitem__)
            assert proof == ref_subproof(SMALL_TABLE, old, 0, new, True), (old, new)
            assert verify_consistency(old, new, SMALL_ROOTS[old], SMALL_ROOTS[new], proof)


def test_every_consistency_proof_up_to_64_leaves_fails_when_tampered() -> None:
    for new in range(2, SMALL + 1):
        for old in range(1, new):
            r1, r2 = SMALL_ROOTS[old], SMALL_ROOTS[new]
            proof = build_proof_sync(consistency_proof_plan(old, new), SMALL_TABLE.__getitem__)
            for i in range(len(proof)):
                bad = [*proof[:i], flip_bit(proof[i], i % 8), *proof[i + 1 :]]
                assert not verify_consistency(old, new, r1, r2, bad), (old, new, i)
            for o, n in ((old - 1, new), (old + 1, new), (old, new // 2), (old, new * 2)):
                if (o, n) != (old, new):
                    assert not verify_consistency(o, n, r1, r2, proof), (old, new, o, n)
            assert not verify_consistency(old, new, flip_bit(r1), r2, proof)
            assert not verify_consistency(old, new, r1, flip_bit(r2), proof)
            assert not verify_consistency(old, new, r2, r1, proof)
            assert not verify_consistency(old, new, r1, r2, [])
            assert not verify_consistency(old, new, r1, r2, proof[:-1])
            assert not verify_consistency(old, new, r1, r2, [*proof, r2])
            assert not verify_consistency(old, new, r1, r2, [r1, *proof])


# --- Edge cases of the verifiers ---------------------------------------------------


def test_verifiers_return_false_on_hashes_of_the_wrong_length() -> None:
    proof = build_proof_sync(inclusion_proof_plan(5, 8), CT_TABLE.__getitem__)
    leaf, root = CT_LEAF_HASHES[5], CT_ROOTS[7]
    assert verify_inclusion(leaf, 5, 8, proof, root)
    assert not verify_inclusion(leaf[:31], 5, 8, proof, root)
    assert not verify_inclusion(leaf, 5, 8, proof, root + b"\x00")
    assert not verify_inclusion(leaf, 5, 8, [*proof[:2], proof[2][:31]], root)
    assert not verify_inclusion(leaf, 5, 8, [*proof[:2], b""], root)
    consistency = build_proof_sync(consistency_proof_plan(6, 8), CT_TABLE.__getitem__)
    r6 = CT_ROOTS[5]
    assert verify_consistency(6, 8, r6, root, consistency)
    assert not verify_consistency(6, 8, r6[:31], root, consistency)
    assert not verify_consistency(6, 8, r6, root[:31], consistency)
    assert not verify_consistency(6, 8, r6, root, [*consistency[:2], consistency[2] + b"\x00"])
    with pytest.raises(ValueError):
        root_from_inclusion_proof(leaf, 5, 8, proof[:2])


@pytest.mark.parametrize(("index", "size"), [(0, 0), (1, 1), (-1, 2), (8, 8)])
def test_inclusion_outside_the_tree_never_verifies(index: int, size: int) -> None:
    h = CT_LEAF_HASHES[0]
    assert not verify_inclusion(h, index, size, [], h)


def test_proofs_do_not_bind_the_tree_size_so_it_must_be_signed_with_the_root() -> None:
    # PATH(0, D[3]) = [D[1], MTH(D[2:3])] has the shape of PATH(0, D[4]): the verifier
    # cannot tell the two apart, so the size it is given must come from the checkpoint.
    proof = build_proof_sync(inclusion_proof_plan(0, 3), CT_TABLE.__getitem__)
    assert verify_inclusion(CT_LEAF_HASHES[0], 0, 4, proof, CT_ROOTS[2])
    consistency = build_proof_sync(consistency_proof_plan(1, 3), CT_TABLE.__getitem__)
    assert verify_consistency(1, 4, CT_ROOTS[0], CT_ROOTS[2], consistency)


def test_single_leaf_tree_proves_inclusion_with_an_empty_path() -> None:
    h = leaf_hash(b"data")
    assert verify_inclusion(h, 0, 1, [], h)
    assert not verify_inclusion(h, 0, 1, [], EMPTY_ROOT)


def test_consistency_between_equal_sizes_needs_equal_roots_and_an_empty_proof() -> None:
    r = CT_ROOTS[3]
    assert verify_consistency(4, 4, r, r, [])
    assert not verify_consistency(4, 4, r, CT_ROOTS[4], [])
    assert not verify_consistency(4, 4, r, r, [r])


def test_consistency_from_the_empty_tree_is_refused() -> None:
    assert not verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])
    assert not verify_consistency(0, 3, EMPTY_ROOT, CT_ROOTS[2], [])


def test_consistency_to_a_smaller_tree_is_refused() -> None:
    assert not verify_consistency(3, 2, CT_ROOTS[2], CT_ROOTS[1], [CT_ROOTS[1]])


# --- Building proofs from storage ---------------------------------------------------


async def test_build_proof_reads_all_distinct_nodes_in_one_call() -> None:
    calls: list[list[Node]] = []

    async def read_nodes(nodes: list[Node]) -> list[bytes]:
        calls.append(nodes)
        return [BIG_TABLE[n] for n in nodes]

    plan = consistency_proof_plan(1000, 4321)
    proof = await build_proof(plan, read_nodes)
    assert proof == build_proof_sync(plan, BIG_TABLE.__getitem__)
    assert len(calls) == 1
    assert len(calls[0]) == len(set(calls[0]))
    assert set(calls[0]) == {n for element in plan for n in element}


async def test_build_proof_of_an_empty_plan_reads_nothing() -> None:
    async def read_nodes(nodes: list[Node]) -> list[bytes]:
        raise AssertionError("nothing to read")

    assert await build_proof([], read_nodes) == []


async def test_build_proof_refuses_a_reader_that_returns_too_few_hashes() -> None:
    async def read_nodes(nodes: list[Node]) -> list[bytes]:
        return [BIG_TABLE[n] for n in nodes[:-1]]

    with pytest.raises(ValueError):
        await build_proof(inclusion_proof_plan(3, 100), read_nodes)


async def test_build_proof_refuses_a_reader_that_returns_short_hashes() -> None:
    async def read_nodes(nodes: list[Node]) -> list[bytes]:
        return [BIG_TABLE[n][:16] for n in nodes]

    with pytest.raises(ValueError):
        await build_proof(inclusion_proof_plan(3, 100), read_nodes)


# --- Compact range -----------------------------------------------------------------


def test_compact_range_root_and_new_nodes_match_the_reference_at_every_size() -> None:
    tree = CompactRange.empty()
    assert tree.root() == EMPTY_ROOT
    written: dict[Node, bytes] = {}
    for size in range(1, BIG + 1):
        completed = tree.append(BIG_LEAVES[size - 1])
        assert completed[0] == ((0, size - 1), BIG_LEAVES[size - 1])
        for node, h in completed:
            assert node not in written
            written[node] = h
        assert tree.size == size
        assert tree.root() == ref_mth(BIG_TABLE, 0, size), size
    assert written == BIG_TABLE


def test_compact_range_refuses_a_frontier_that_does_not_fit_the_size() -> None:
    h = BIG_LEAVES[0]
    with pytest.raises(ValueError):
        CompactRange(3, [h])
    with pytest.raises(ValueError):
        CompactRange(2, [h[:31]])
    with pytest.raises(ValueError):
        CompactRange(-1, [])
    with pytest.raises(ValueError):
        CompactRange.empty().append(h[:31])


# --- Properties of trees of up to 5000 leaves ---------------------------------------

sizes = st.integers(min_value=1, max_value=BIG)


@settings(max_examples=20, deadline=None)
@given(size=sizes)
def test_compact_range_root_equals_the_reference_root(size: int) -> None:
    tree = CompactRange.empty()
    for h in BIG_LEAVES[:size]:
        tree.append(h)
    assert tree.root() == root_from_leaf_hashes(BIG_LEAVES[:size])


@settings(max_examples=60, deadline=None)
@given(size=st.integers(min_value=0, max_value=BIG), extra=st.integers(0, 40))
def test_compact_range_rebuilt_from_stored_frontier_nodes_is_the_same(
    size: int, extra: int
) -> None:
    frontier = [BIG_TABLE[n] for n in CompactRange.frontier_nodes(size)]
    rebuilt = CompactRange(size, frontier)
    assert rebuilt.root() == (ref_mth(BIG_TABLE, 0, size) if size else EMPTY_ROOT)
    assert rebuilt.frontier_hashes == tuple(frontier)
    end = min(BIG, size + extra)
    for h in BIG_LEAVES[size:end]:
        for node, node_h in rebuilt.append(h):
            assert BIG_TABLE[node] == node_h
    assert rebuilt == CompactRange(end, [BIG_TABLE[n] for n in CompactRange.frontier_nodes(end)])


@settings(max_examples=100, deadline=None)
@given(data=st.data(), size=sizes)
def test_inclusion_proofs_in_large_trees_are_the_rfc_path_and_verify(
    data: st.DataObject, size: int
) -> None:
    index = data.draw(st.integers(min_value=0, max_value=size - 1))
    root = ref_mth(BIG_TABLE, 0, size)
    proof = build_proof_sync(inclusion_proof_plan(index, size), BIG_TABLE.__getitem__)
    assert proof == ref_path(BIG_TABLE, index, 0, size)
    assert verify_inclusion(BIG_LEAVES[index], index, size, proof, root)
    if proof:
        i = data.draw(st.integers(min_value=0, max_value=len(proof) - 1))
        bad = [*proof[:i], flip_bit(proof[i]), *proof[i + 1 :]]
        assert not verify_inclusion(BIG_LEAVES[index], index, size, bad, root)


@settings(max_examples=100, deadline=None)
@given(data=st.data(), new=sizes)
def test_consistency_proofs_in_large_trees_are_the_rfc_subproof_and_verify(
    data: st.DataObject, new: int
) -> None:
    old = data.draw(st.integers(min_value=1, max_value=new))
    r1, r2 = ref_mth(BIG_TABLE, 0, old), ref_mth(BIG_TABLE, 0, new)
    proof = build_proof_sync(consistency_proof_plan(old, new), BIG_TABLE.__getitem__)
    assert proof == ref_subproof(BIG_TABLE, old, 0, new, True)
    assert verify_consistency(old, new, r1, r2, proof)
    if proof:
        i = data.draw(st.integers(min_value=0, max_value=len(proof) - 1))
        bad = [*proof[:i], flip_bit(proof[i]), *proof[i + 1 :]]
        assert not verify_consistency(old, new, r1, r2, bad)
