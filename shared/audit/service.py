"""Reading the audit log: roots, inclusion and consistency proofs, and event receipts."""

import base64
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.audit import repository as repo
from shared.audit.repository import LogReader, TileSource
from shared.audit.tilecache import HASH, TileCache
from shared.problems import InvalidInput, NotFound
from shared.tlog import merkle, tiles
from shared.tlog.note import Signer, verifier_key
from shared.tlog.receipt import format_receipt


@dataclass
class AuditLog:
    """One service's log: its origin, its checkpoint key, and what this process has seen."""

    origin: str
    private_key: Ed25519PrivateKey
    cache: TileCache = field(default_factory=TileCache)
    # The largest tree size seen integrated: it never shrinks, so a request for a size up
    # to it needs no look at the database.
    known_size: int = 0

    @property
    def signer(self) -> Signer:
        """Signs checkpoints under the origin's name."""
        return Signer(self.origin, self.private_key)

    @property
    def verifier_key(self) -> str:
        """The signed-note verifier key that checks this log's checkpoints."""
        public = self.private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        return verifier_key(self.origin, public)


async def tree_size(session: TileSource) -> int:
    """How many events the tree holds now."""
    if isinstance(session, LogReader):
        return await session.tree_size()
    size, _ = await repo.load_state(session)
    return size


async def _check_size(session: TileSource, log: AuditLog, size: int) -> None:
    if size <= log.known_size:
        return
    log.known_size = max(log.known_size, await tree_size(session))
    if size > log.known_size:
        raise InvalidInput(
            "log_size_out_of_range", f"the log holds {log.known_size} entries, not {size}"
        )


async def root_at(session: TileSource, log: AuditLog, size: int) -> bytes:
    """The root hash of the tree over the first `size` entries."""
    await _check_size(session, log, size)
    if size == 0:
        return merkle.EMPTY_ROOT
    nodes = merkle.range_nodes(0, size)
    return merkle.fold(await repo.read_nodes(session, nodes, log.cache))


async def inclusion_proof(
    session: TileSource, log: AuditLog, *, index: int, size: int
) -> list[bytes]:
    """RFC 9162 inclusion proof of entry `index` in the tree of `size` entries."""
    if not 0 <= index < size:
        raise InvalidInput("log_index_out_of_range", "index must satisfy 0 <= index < size")
    await _check_size(session, log, size)
    plan = merkle.inclusion_proof_plan(index, size)
    return await merkle.build_proof(plan, lambda nodes: repo.read_nodes(session, nodes, log.cache))


async def consistency_proof(
    session: TileSource, log: AuditLog, *, old: int, new: int
) -> list[bytes]:
    """RFC 9162 consistency proof between the trees of `old` and `new` entries."""
    if not 0 < old <= new:
        raise InvalidInput("log_size_out_of_range", "sizes must satisfy 0 < old <= new")
    await _check_size(session, log, new)
    plan = merkle.consistency_proof_plan(old, new)
    return await merkle.build_proof(plan, lambda nodes: repo.read_nodes(session, nodes, log.cache))


async def _proof_and_roots(
    source: TileSource, log: AuditLog, plan: list[list[merkle.Node]], sizes: Sequence[int]
) -> tuple[list[bytes], list[bytes]]:
    """A proof and the roots at the given sizes, from one read of the tiles they need."""
    root_nodes = [merkle.range_nodes(0, size) for size in sizes]
    wanted = [node for nodes in root_nodes for node in nodes]
    found: dict[merkle.Node, bytes] = {}

    async def read(nodes: list[merkle.Node]) -> list[bytes]:
        every = list(dict.fromkeys([*nodes, *wanted]))
        found.update(zip(every, await repo.read_nodes(source, every, log.cache), strict=True))
        return [found[node] for node in nodes]

    proof = await merkle.build_proof(plan, read)
    if not found:  # an empty proof reads nothing: the roots still need their nodes
        await read([])
    return proof, [merkle.fold([found[node] for node in nodes]) for nodes in root_nodes]


async def inclusion_proof_and_root(
    source: TileSource, log: AuditLog, *, index: int, size: int
) -> tuple[list[bytes], bytes]:
    """`inclusion_proof` and `root_at(size)` from one read (one statement with no cache)."""
    if not 0 <= index < size:
        raise InvalidInput("log_index_out_of_range", "index must satisfy 0 <= index < size")
    await _check_size(source, log, size)
    plan = merkle.inclusion_proof_plan(index, size)
    proof, (root,) = await _proof_and_roots(source, log, plan, [size])
    return proof, root


async def consistency_proof_and_roots(
    source: TileSource, log: AuditLog, *, old: int, new: int
) -> tuple[list[bytes], bytes, bytes]:
    """`consistency_proof` and the roots at both sizes from one read."""
    if not 0 < old <= new:
        raise InvalidInput("log_size_out_of_range", "sizes must satisfy 0 < old <= new")
    await _check_size(source, log, new)
    plan = merkle.consistency_proof_plan(old, new)
    proof, (old_root, new_root) = await _proof_and_roots(source, log, plan, [old, new])
    return proof, old_root, new_root


async def receipt(session: AsyncSession, log: AuditLog, event_id: uuid.UUID) -> str:
    """A C2SP tlog-proof for one event, against the newest checkpoint.

    The proof's `extra` data is the event's salt, so that whoever holds the event can
    recompute its entry and check the proof offline.
    """
    event = await repo.event_by_id(session, event_id)
    if event is None:
        raise NotFound("event_not_found", "no such event")
    latest = await repo.latest_checkpoint(session)
    if event.log_index is None or latest is None or latest.size <= event.log_index:
        raise NotFound(
            "event_not_yet_integrated",
            "the event is recorded but not yet under a signed checkpoint; try again shortly",
        )
    plan = merkle.inclusion_proof_plan(event.log_index, latest.size)
    proof = await merkle.build_proof(plan, lambda nodes: repo.read_nodes(session, nodes, log.cache))
    return format_receipt(event.log_index, proof, latest.note, extra=bytes(event.salt))


async def hash_tile(
    session: TileSource, log: AuditLog, level: int, index: int, width: int
) -> bytes:
    """The first `width` hashes of a tile, if the tile holds that many."""
    found = await repo.read_cached_tiles(session, {(level, index): width}, log.cache)
    tile = found.get((level, index))
    if tile is None or tile.width < width:
        raise NotFound("tile_not_found", "no such tile, or not that wide yet")
    return tile.hashes[: width * HASH]


async def entry_bundle(session: TileSource, index: int, width: int) -> bytes:
    """The entry bundle of entries [256 * index, 256 * index + width)."""
    start = index * tiles.TILE_WIDTH
    if await tree_size(session) < start + width:
        raise NotFound("tile_not_found", "no such entry bundle, or not that wide yet")
    if isinstance(session, LogReader):
        return tiles.encode_entry_bundle(await session.entries(start, width))
    return tiles.encode_entry_bundle(await repo.entries(session, start, width))


def encode_hashes(hashes: list[bytes]) -> list[str]:
    """Hashes as standard base64, as in the C2SP formats."""
    return [base64.b64encode(h).decode() for h in hashes]
