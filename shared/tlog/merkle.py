"""RFC 9162 Merkle tree: hashing, proof plans, proof verification and the compact range.

Hand-written on purpose. The audit log keeps its node hashes in our own database (as
C2SP tiles) and serves proofs from async request handlers; no maintained Python library
fits that: pymerkle keeps its own storage (memory or SQLite) and builds proofs
synchronously over it. So this module separates *geometry* from *hashing*:

- a proof "plan" says which perfect subtrees make up each proof element; the storage
  layer reads all of them in one round trip (``build_proof``) and this module folds
  them into the RFC 9162 proof;
- the verifiers are line-by-line translations of RFC 9162 sections 2.1.3.2 and 2.1.4.2.

Conventions: leaf indexes are 0-based; a ``Node`` ``(level, index)`` is the perfect
subtree over leaves ``[index * 2**level, (index + 1) * 2**level)``; hashes are 32-byte
SHA-256 digests. Every MTH(D[a:b]) that occurs inside an RFC 9162 proof starts at an
``a`` aligned to the size of the range, so it is the right-to-left ``fold`` of the
perfect subtrees of the binary decomposition of ``b - a`` (``range_nodes``): storage
that keeps every complete perfect subtree can answer any proof without touching leaves.

Sizes outside the RFC's ``0 < m < n`` for consistency proofs are decided as follows:
``old_size == new_size`` gives the empty proof (the RFC's own base case
SUBPROOF(m, D[m], true) = {}) and verifies exactly when the two roots are equal;
``old_size == 0`` is refused by both the planner and the verifier, because the RFC
defines no proof from the empty tree. A client without a previous checkpoint has
nothing to check and must not ask for a proof.
"""

import hashlib
from collections.abc import Awaitable, Callable, Sequence
from typing import Final, TypeAlias

Node: TypeAlias = tuple[int, int]
"""(level, index): the perfect subtree over leaves [index * 2**level, (index + 1) * 2**level)."""

HASH_SIZE: Final = 32
EMPTY_ROOT: Final[bytes] = hashlib.sha256(b"").digest()

_sha256 = hashlib.sha256
_LEAF_PREFIX: Final = b"\x00"
_NODE_PREFIX: Final = b"\x01"


def leaf_hash(data: bytes) -> bytes:
    """Return the RFC 9162 leaf hash SHA-256(0x00 || data)."""
    h = _sha256(_LEAF_PREFIX)
    h.update(data)
    return h.digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Return the RFC 9162 interior node hash SHA-256(0x01 || left || right)."""
    return _sha256(_NODE_PREFIX + left + right).digest()


def _split(n: int) -> int:
    """Return the largest power of two strictly smaller than n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def root_from_leaf_hashes(hashes: Sequence[bytes]) -> bytes:
    """Return MTH over the given leaf hashes, by the RFC's recursive definition."""
    if not hashes:
        return EMPTY_ROOT
    return _mth(hashes, 0, len(hashes))


def _mth(hashes: Sequence[bytes], lo: int, hi: int) -> bytes:
    if hi - lo == 1:
        return hashes[lo]
    mid = lo + _split(hi - lo)
    return node_hash(_mth(hashes, lo, mid), _mth(hashes, mid, hi))


def range_nodes(start: int, end: int) -> list[Node]:
    """Return the perfect subtrees, left to right, whose fold is MTH(D[start:end])."""
    if not 0 <= start < end:
        raise ValueError(f"range [{start}, {end}) is empty or negative")
    top = (end - start).bit_length() - 1
    if start & ((1 << top) - 1):
        raise ValueError(f"range [{start}, {end}) does not start on a multiple of {1 << top}")
    return _range_nodes(start, end)


def _range_nodes(start: int, end: int) -> list[Node]:
    # One perfect subtree per set bit of the range's size, largest first.
    nodes: list[Node] = []
    rest = end - start
    while rest:
        level = rest.bit_length() - 1
        nodes.append((level, start >> level))
        start += 1 << level
        rest ^= 1 << level
    return nodes


def fold(hashes: Sequence[bytes]) -> bytes:
    """Fold hashes right to left: h = last; h = node_hash(x, h) for the others, last first."""
    if not hashes:
        raise ValueError("cannot fold an empty list of hashes")
    i = len(hashes) - 1
    h = hashes[i]
    while i:
        i -= 1
        h = _sha256(_NODE_PREFIX + hashes[i] + h).digest()
    return h


def inclusion_proof_plan(index: int, size: int) -> list[list[Node]]:
    """Return the nodes of each element of PATH(index, D[size]), in RFC 9162 order."""
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} is not in a tree of size {size}")
    # Walk down from the root; the RFC lists the siblings from the leaf up.
    plan: list[list[Node]] = []
    lo, hi = 0, size
    while hi - lo > 1:
        k = _split(hi - lo)
        mid = lo + k
        if index < mid:
            plan.append(_range_nodes(mid, hi))
            hi = mid
        else:
            level = k.bit_length() - 1
            plan.append([(level, lo >> level)])
            lo = mid
    plan.reverse()
    return plan


def consistency_proof_plan(old_size: int, new_size: int) -> list[list[Node]]:
    """Return the nodes of each element of PROOF(old_size, D[new_size]), in RFC 9162 order."""
    if not 0 < old_size <= new_size:
        raise ValueError(f"no consistency proof from size {old_size} to size {new_size}")
    # SUBPROOF(m, D[lo:hi], b) unrolled from the top; the RFC lists elements bottom-up.
    plan: list[list[Node]] = []
    lo, hi, m, on_left_edge = 0, new_size, old_size, True
    while m != hi - lo:
        k = _split(hi - lo)
        mid = lo + k
        if m <= k:
            plan.append(_range_nodes(mid, hi))
            hi = mid
        else:
            level = k.bit_length() - 1
            plan.append([(level, lo >> level)])
            lo, m, on_left_edge = mid, m - k, False
    if not on_left_edge:
        plan.append(_range_nodes(lo, hi))
    plan.reverse()
    return plan


def _distinct_nodes(plan: list[list[Node]]) -> list[Node]:
    return list(dict.fromkeys(node for element in plan for node in element))


def _fold_plan(plan: list[list[Node]], lookup: Callable[[Node], bytes]) -> list[bytes]:
    proof: list[bytes] = []
    for element in plan:
        if len(element) == 1:
            proof.append(lookup(element[0]))
        else:
            proof.append(fold([lookup(node) for node in element]))
    return proof


async def build_proof(
    plan: list[list[Node]],
    read_nodes: Callable[[list[Node]], Awaitable[list[bytes]]],
) -> list[bytes]:
    """Read every distinct node of the plan in one call to read_nodes and fold the proof."""
    nodes = _distinct_nodes(plan)
    if not nodes:
        return []
    hashes = await read_nodes(nodes)
    if len(hashes) != len(nodes):
        raise ValueError(f"asked for {len(nodes)} node hashes, got {len(hashes)}")
    if any(len(h) != HASH_SIZE for h in hashes):
        raise ValueError("a node hash is not 32 bytes long")
    table = dict(zip(nodes, hashes, strict=True))
    return _fold_plan(plan, table.__getitem__)


def build_proof_sync(plan: list[list[Node]], lookup: Callable[[Node], bytes]) -> list[bytes]:
    """Fold the proof of a plan, looking node hashes up one by one (tests and tools)."""
    return _fold_plan(plan, lookup)


def _inclusion_root(leaf: bytes, index: int, size: int, proof: Sequence[bytes]) -> bytes | None:
    # RFC 9162 section 2.1.3.2, steps 1 to 4, plus the sn == 0 check of step 5.
    if len(leaf) != HASH_SIZE or not 0 <= index < size:
        return None
    fn, sn = index, size - 1
    r = leaf
    for p in proof:
        if sn == 0 or len(p) != HASH_SIZE:
            return None
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        return None
    return r


def root_from_inclusion_proof(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes]
) -> bytes:
    """Return the root an inclusion proof leads to; ValueError if it cannot be a proof."""
    root = _inclusion_root(leaf_hash, index, size, proof)
    if root is None:
        raise ValueError(f"not an inclusion proof for leaf {index} in a tree of size {size}")
    return root


def verify_inclusion(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """Check an inclusion proof by RFC 9162 section 2.1.3.2."""
    return len(root) == HASH_SIZE and _inclusion_root(leaf_hash, index, size, proof) == root


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """Check a consistency proof by RFC 9162 section 2.1.4.2 (equal sizes: equal roots)."""
    if len(old_root) != HASH_SIZE or len(new_root) != HASH_SIZE:
        return False
    if any(len(c) != HASH_SIZE for c in proof):
        return False
    if not 0 < old_size <= new_size:
        return False
    if old_size == new_size:
        return not proof and old_root == new_root
    # 1. An empty path fails.
    if not proof:
        return False
    # 2. If first is a power of two, old_root is (implicitly) prepended to the path.
    if old_size & (old_size - 1) == 0:
        first, rest = old_root, 0
    else:
        first, rest = proof[0], 1
    # 3. and 4.
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    # 5.
    fr = sr = first
    # 6.
    for i in range(rest, len(proof)):
        c = proof[i]
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    # 7.
    return sn == 0 and fr == old_root and sr == new_root


class CompactRange:
    """The right edge of a tree over leaves [0, size): one hash per set bit of size."""

    __slots__ = ("_hashes", "_size")

    def __init__(self, size: int, frontier_hashes: Sequence[bytes]) -> None:
        if size < 0:
            raise ValueError(f"tree size {size} is negative")
        if len(frontier_hashes) != size.bit_count():
            raise ValueError(
                f"a tree of size {size} has {size.bit_count()} frontier hashes, "
                f"not {len(frontier_hashes)}"
            )
        if any(len(h) != HASH_SIZE for h in frontier_hashes):
            raise ValueError("a frontier hash is not 32 bytes long")
        self._size = size
        self._hashes = list(frontier_hashes)

    @classmethod
    def empty(cls) -> "CompactRange":
        """Return the compact range of the empty tree."""
        return cls(0, ())

    @staticmethod
    def frontier_nodes(size: int) -> list[Node]:
        """Return the perfect subtrees, left to right, that make up a tree of this size."""
        if size < 0:
            raise ValueError(f"tree size {size} is negative")
        return _range_nodes(0, size)

    @property
    def size(self) -> int:
        """Number of leaves in the tree."""
        return self._size

    @property
    def frontier_hashes(self) -> tuple[bytes, ...]:
        """Hashes of frontier_nodes(size), left to right."""
        return tuple(self._hashes)

    def append(self, leaf_hash: bytes) -> list[tuple[Node, bytes]]:
        """Add a leaf; return every perfect subtree it completes, the leaf itself first."""
        if len(leaf_hash) != HASH_SIZE:
            raise ValueError("a leaf hash is 32 bytes long")
        index = self._size
        completed: list[tuple[Node, bytes]] = [((0, index), leaf_hash)]
        h, level = leaf_hash, 0
        # Each trailing 1 bit of the old size is a left sibling that now has its pair.
        while index & 1:
            h = node_hash(self._hashes.pop(), h)
            index >>= 1
            level += 1
            completed.append(((level, index), h))
        self._hashes.append(h)
        self._size += 1
        return completed

    def root(self) -> bytes:
        """Return the Merkle Tree Hash of the whole tree (EMPTY_ROOT at size 0)."""
        if not self._hashes:
            return EMPTY_ROOT
        return fold(self._hashes)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CompactRange):
            return NotImplemented
        return self._size == other._size and self._hashes == other._hashes

    def __repr__(self) -> str:
        return f"CompactRange(size={self._size}, root={self.root().hex()})"
