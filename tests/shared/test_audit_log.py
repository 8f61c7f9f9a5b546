"""The audit log end to end: append, sequence, tiles, proofs, receipts, read API."""

import base64
import json
import uuid

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlmodel import col, select

from shared.audit import repository as repo
from shared.audit.events import append, canonical_json, commitment
from shared.audit.models import AuditEvent
from shared.audit.sequencer import Sequencer, drain, integrate
from shared.db import transaction
from shared.tlog import merkle, tiles
from shared.tlog.checkpoint import open_checkpoint
from shared.tlog.note import parse_verifier_key
from shared.tlog.receipt import parse_receipt, verify_receipt
from tests.audit_helpers import append_events, integrate_all, parts

AppAndClient = tuple[FastAPI, httpx.AsyncClient]


async def stored_entries(app: FastAPI) -> list[bytes]:
    """Commitments of integrated events in index order."""
    sessions, _ = parts(app)
    async with sessions() as session:
        rows = await session.exec(
            select(AuditEvent.commitment)
            .where(col(AuditEvent.log_index).is_not(None))
            .order_by(col(AuditEvent.log_index))
        )
        return [bytes(c) for c in rows]


async def test_events_of_a_rolled_back_transaction_never_appear(release_app: AppAndClient) -> None:
    app, _ = release_app
    sessions, _ = parts(app)
    with pytest.raises(RuntimeError):
        async with transaction(sessions) as session:
            await append(session, "test.event", {"doomed": True})
            raise RuntimeError("business change failed")
    async with transaction(sessions) as session:
        kept = await append(session, "test.event", {"doomed": False})
    assert await integrate_all(app) == 1
    async with sessions() as session:
        events = (await session.exec(select(AuditEvent))).all()
    assert [e.event_id for e in events] == [kept]
    assert b'"doomed":false' in events[0].event.encode()


async def test_integrated_tree_matches_the_reference_tree_across_tile_boundaries(
    release_app: AppAndClient,
) -> None:
    app, _ = release_app
    sessions, _ = parts(app)
    await append_events(sessions, 600, per_transaction=50)
    # Small batches make the sequencer extend partial tiles many times.
    assert await integrate_all(app, batch_size=77) == 600
    leaves = [merkle.leaf_hash(e) for e in await stored_entries(app)]
    async with sessions() as session:
        size, root = await repo.load_state(session)
        stored = await repo.read_tiles(session, [(0, 0), (0, 1), (0, 2)])
    assert size == 600
    assert root == merkle.root_from_leaf_hashes(leaves)
    assert stored[(0, 0)] == b"".join(leaves[:256])
    assert stored[(0, 1)] == b"".join(leaves[256:512])
    assert stored[(0, 2)] == b"".join(leaves[512:600])


async def test_each_event_gets_exactly_one_index(release_app: AppAndClient) -> None:
    app, _ = release_app
    sessions, _ = parts(app)
    await append_events(sessions, 30, per_transaction=7)
    await integrate_all(app, batch_size=4)
    await integrate_all(app, batch_size=4)
    async with sessions() as session:
        indexes = (await session.exec(select(AuditEvent.log_index))).all()
    assert sorted(i for i in indexes if i is not None) == list(range(30))
    assert len(indexes) == 30


@pytest.mark.postgres
async def test_a_transaction_that_commits_late_with_a_lower_id_is_still_integrated_once(
    release_app: AppAndClient,
) -> None:
    # SQLite serialises writers, so only PostgreSQL can interleave the two transactions.
    app, _ = release_app
    sessions, log = parts(app)
    late = sessions()
    await late.begin()
    late_id = await append(late, "test.event", {"who": "late"})
    await late.flush()  # takes the lower row id now, commits later
    early_ids = await append_events(sessions, 1)
    assert await drain(sessions, signer=log.signer, origin=log.origin) == 1
    await late.commit()
    await late.close()
    assert await drain(sessions, signer=log.signer, origin=log.origin) == 2
    assert await drain(sessions, signer=log.signer, origin=log.origin) == 2
    async with sessions() as session:
        rows = (await session.exec(select(AuditEvent).order_by(col(AuditEvent.id)))).all()
        placed = {row.event_id: row.log_index for row in rows}
    assert placed == {late_id: 1, early_ids[0]: 0}


async def test_sequencer_refuses_to_extend_a_damaged_partial_tile(
    release_app: AppAndClient,
) -> None:
    app, _ = release_app
    sessions, _ = parts(app)
    await append_events(sessions, 5, per_transaction=5)
    await integrate_all(app)
    async with transaction(sessions) as session:
        connection = await session.connection()
        await connection.execute(
            text("UPDATE audit_tiles SET hashes = substr(hashes, 1, 64), width = 2")
        )
    await append_events(sessions, 1)
    with pytest.raises((RuntimeError, LookupError)):
        async with transaction(sessions) as session:
            await integrate(session, batch_size=10)


async def test_log_key_and_checkpoint_verify(release_app: AppAndClient) -> None:
    app, client = release_app
    await append_events(parts(app)[0], 3)
    await integrate_all(app)
    key = (await client.get("/log/key")).text.strip()
    verifier = parse_verifier_key(key)
    response = await client.get("/log/checkpoint")
    assert response.headers["content-type"].startswith("text/plain")
    checkpoint = open_checkpoint(response.text, verifier, verifier.name)
    assert checkpoint.size == 3
    assert checkpoint.root_hash == merkle.root_from_leaf_hashes(
        [merkle.leaf_hash(e) for e in await stored_entries(app)]
    )


async def test_checkpoint_is_a_problem_before_anything_is_signed(release_app: AppAndClient) -> None:
    _, client = release_app
    response = await client.get("/log/checkpoint")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "checkpoint_not_found"


async def test_tiles_and_entry_bundles_are_served_full_and_partial(
    release_app: AppAndClient,
) -> None:
    app, client = release_app
    await append_events(parts(app)[0], 300, per_transaction=100)
    await integrate_all(app)
    entries = await stored_entries(app)
    leaves = [merkle.leaf_hash(e) for e in entries]

    full = await client.get("/log/" + tiles.tile_path(0, 0, 256))
    assert full.content == b"".join(leaves[:256])
    assert "immutable" in full.headers["cache-control"]
    partial = await client.get("/log/" + tiles.tile_path(0, 1, 44))
    assert partial.content == b"".join(leaves[256:300])
    assert "immutable" not in partial.headers["cache-control"]
    narrower = await client.get("/log/" + tiles.tile_path(0, 1, 10))
    assert narrower.content == b"".join(leaves[256:266])
    bundle = await client.get("/log/" + tiles.entries_path(1, 44))
    assert tiles.decode_entry_bundle(bundle.content) == entries[256:300]
    level1 = await client.get("/log/" + tiles.tile_path(1, 0, 1))
    assert level1.content == merkle.root_from_leaf_hashes(leaves[:256])

    for missing in (
        tiles.tile_path(0, 1, 256),
        tiles.tile_path(0, 1, 45),
        tiles.entries_path(1, 45),
        tiles.tile_path(0, 7, 1),
    ):
        response = await client.get("/log/" + missing)
        assert response.status_code == 404, missing
        assert response.json()["code"] == "tile_not_found"


@pytest.mark.parametrize(
    "path",
    [
        "tile/0/1",
        "tile/0/x1/002",
        "tile/0/000.p/0",
        "tile/0/000.p/256",
        "tile/99/000",
        "tile/entries/001.p/x",
        "tile/../etc/passwd",
        "tile/-1/000",
    ],
)
async def test_malformed_tile_paths_are_404_problems(release_app: AppAndClient, path: str) -> None:
    _, client = release_app
    response = await client.get("/log/" + path)
    assert response.status_code == 404
    assert response.json()["code"] in ("tile_not_found", "not_found")


async def test_inclusion_proofs_from_the_api_verify_for_every_index(
    release_app: AppAndClient,
) -> None:
    app, client = release_app
    await append_events(parts(app)[0], 70, per_transaction=70)
    await integrate_all(app)
    leaves = [merkle.leaf_hash(e) for e in await stored_entries(app)]
    for size in (1, 33, 70):
        root = merkle.root_from_leaf_hashes(leaves[:size])
        for index in range(size):
            body = (
                await client.get("/v1/log/proofs/inclusion", params={"index": index, "size": size})
            ).json()
            proof = [base64.b64decode(h) for h in body["proof"]]
            assert base64.b64decode(body["root_hash"]) == root
            assert merkle.verify_inclusion(leaves[index], index, size, proof, root)


async def test_consistency_proofs_from_the_api_verify(release_app: AppAndClient) -> None:
    app, client = release_app
    await append_events(parts(app)[0], 40, per_transaction=40)
    await integrate_all(app)
    leaves = [merkle.leaf_hash(e) for e in await stored_entries(app)]
    for old in range(1, 41):
        body = (
            await client.get("/v1/log/proofs/consistency", params={"old": old, "new": 40})
        ).json()
        proof = [base64.b64decode(h) for h in body["proof"]]
        assert merkle.verify_consistency(
            old,
            40,
            merkle.root_from_leaf_hashes(leaves[:old]),
            merkle.root_from_leaf_hashes(leaves),
            proof,
        )


@pytest.mark.parametrize(
    ("path", "params", "code"),
    [
        ("/v1/log/proofs/inclusion", {"index": 5, "size": 5}, "log_index_out_of_range"),
        ("/v1/log/proofs/inclusion", {"index": 0, "size": 99}, "log_size_out_of_range"),
        ("/v1/log/proofs/inclusion", {"index": -1, "size": 2}, "invalid_request"),
        ("/v1/log/proofs/inclusion", {"index": "x", "size": 2}, "invalid_request"),
        ("/v1/log/proofs/inclusion", {"size": 2}, "invalid_request"),
        ("/v1/log/proofs/consistency", {"old": 6, "new": 5}, "log_size_out_of_range"),
        ("/v1/log/proofs/consistency", {"old": 0, "new": 5}, "invalid_request"),
        ("/v1/log/proofs/consistency", {"old": 1, "new": 99}, "log_size_out_of_range"),
    ],
)
async def test_bad_proof_requests_are_problems(
    release_app: AppAndClient, path: str, params: dict[str, int | str], code: str
) -> None:
    app, client = release_app
    await append_events(parts(app)[0], 5, per_transaction=5)
    await integrate_all(app)
    response = await client.get(path, params=params)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == code


async def test_receipt_proves_an_event_offline(release_app: AppAndClient) -> None:
    app, client = release_app
    sessions, log = parts(app)
    ids = await append_events(sessions, 10, per_transaction=10)
    pending = await client.get(f"/v1/log/events/{ids[3]}/receipt")
    assert pending.status_code == 404
    assert pending.json()["code"] == "event_not_yet_integrated"
    await integrate_all(app)

    response = await client.get(f"/v1/log/events/{ids[3]}/receipt")
    assert response.status_code == 200
    async with sessions() as session:
        event = await repo.event_by_id(session, ids[3])
    assert event is not None
    # The holder of the event recomputes its entry from the event and the salt in `extra`.
    receipt = parse_receipt(response.text)
    entry = commitment(receipt.extra or b"", canonical_json(json.loads(event.event)))
    verifier = parse_verifier_key(log.verifier_key)
    checkpoint = verify_receipt(response.text, entry, verifier, log.origin)
    assert checkpoint.size == 10
    with pytest.raises(ValueError):
        verify_receipt(response.text, commitment(b"\0" * 32, b"{}"), verifier, log.origin)


async def test_receipt_of_an_unknown_event_is_404(release_app: AppAndClient) -> None:
    _, client = release_app
    response = await client.get(f"/v1/log/events/{uuid.uuid4()}/receipt")
    assert response.status_code == 404
    assert response.json()["code"] == "event_not_found"
    malformed = await client.get("/v1/log/events/not-a-uuid/receipt")
    assert malformed.status_code == 422


async def test_background_sequencer_integrates_everything_and_signs_at_its_interval(
    release_app: AppAndClient,
) -> None:
    app, _ = release_app
    sessions, log = parts(app)
    now = [100.0]
    sequencer = Sequencer(
        sessions,
        signer=log.signer,
        origin=log.origin,
        batch_size=7,
        interval=0.2,
        checkpoint_interval=5.0,
        clock=lambda: now[0],
    )
    await append_events(sessions, 20, per_transaction=20)
    assert await sequencer.run_once() == 20  # several batches in one go
    async with sessions() as session:
        first = await repo.latest_checkpoint(session)
    assert first is not None and first.size == 20

    await append_events(sessions, 3, per_transaction=3)
    now[0] += 1.0  # within the checkpoint interval: integrate, but sign nothing new
    assert await sequencer.run_once() == 3
    async with sessions() as session:
        latest = await repo.latest_checkpoint(session)
        size, _ = await repo.load_state(session)
    assert latest is not None and latest.size == 20
    assert size == 23
    now[0] += 5.0
    assert await sequencer.run_once() == 0
    async with sessions() as session:
        latest = await repo.latest_checkpoint(session)
    assert latest is not None and latest.size == 23
