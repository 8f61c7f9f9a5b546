"""The witness cosigns only checkpoints that extend what it holds (C2SP tlog-witness)."""

import asyncio
from pathlib import Path

import httpx
from fastapi import FastAPI

from services.witness.app import create_app
from services.witness.storage import Held, Storage
from shared.tlog.cosignature import merge_signature_lines, verify_cosignatures
from shared.tlog.witness_protocol import SIZE_MEDIA_TYPE, format_add_checkpoint
from tests.conftest import running
from tests.helpers import assert_problem
from tests.witness.conftest import MemoryLog, WitnessFactory, witness_cosigner

Running = tuple[FastAPI, httpx.AsyncClient]


async def add(client: httpx.AsyncClient, body: bytes) -> httpx.Response:
    return await client.post("/add-checkpoint", content=body)


def assert_conflict(response: httpx.Response, held: int) -> None:
    assert response.status_code == 409
    assert response.headers["content-type"].startswith(SIZE_MEDIA_TYPE)
    assert response.text == f"{held}\n"


async def test_first_checkpoint_is_cosigned_from_old_zero(
    witness: Running, memory_log: MemoryLog
) -> None:
    app, client = witness
    note = memory_log.note()
    response = await add(client, memory_log.request(0))
    assert response.status_code == 200, response.text
    assert response.text.startswith("\u2014 witness.test/w1 ")
    cosigned = merge_signature_lines(note, response.text.splitlines(keepends=True))
    found = verify_cosignatures(cosigned, [witness_cosigner(app)])
    assert set(found) == {"witness.test/w1"}


async def test_a_consistent_extension_is_cosigned_and_a_stale_old_size_is_409(
    witness: Running, memory_log: MemoryLog
) -> None:
    _, client = witness
    assert (await add(client, memory_log.request(0))).status_code == 200
    memory_log.grow(7)
    # The client does not know the witness holds 10: 409 tells it, then it proves from 10.
    assert_conflict(await add(client, memory_log.request(0)), 10)
    assert (await add(client, memory_log.request(10))).status_code == 200
    assert_conflict(await add(client, memory_log.request(10)), 17)
    # The same checkpoint again, from the size held: cosigned again.
    assert (await add(client, memory_log.request(17))).status_code == 200


async def test_a_rollback_is_refused(witness: Running, memory_log: MemoryLog) -> None:
    _, client = witness
    memory_log.grow(6)
    assert (await add(client, memory_log.request(0))).status_code == 200
    # The log shows the witness its older, smaller tree: old 16 > 10 is a bad request, and
    # claiming the size it had (old 10) is not what the witness holds.
    assert_problem(await add(client, memory_log.request(16, 10)), 400, "old_size_too_large")
    assert_conflict(await add(client, memory_log.request(10, 10)), 16)


async def test_a_fork_of_the_same_size_is_409_and_kept_as_evidence(
    witness: Running, memory_log: MemoryLog
) -> None:
    app, client = witness
    assert (await add(client, memory_log.request(0))).status_code == 200
    forked = memory_log.fork(4)
    assert forked.root() != memory_log.root()
    assert_conflict(await add(client, forked.request(10)), 10)
    refusals = await app.state.witness.storage.refusals()
    assert [(status, "another root" in reason) for _, status, reason in refusals] == [(409, True)]


async def test_a_fork_that_grew_is_422(witness: Running, memory_log: MemoryLog) -> None:
    _, client = witness
    assert (await add(client, memory_log.request(0))).status_code == 200
    forked = memory_log.fork(4).grow(5)
    # A proof from the forked tree cannot lead from the root the witness holds.
    assert_problem(await add(client, forked.request(10)), 422, "inconsistent")
    # Nor can a proof borrowed from the honest log.
    honest = memory_log.grow(5)
    body = format_add_checkpoint(10, honest.proof(10), forked.note())
    assert_problem(await add(client, body), 422, "inconsistent")


async def test_unknown_origin_is_404_and_a_foreign_signature_is_403(
    witness: Running, memory_log: MemoryLog
) -> None:
    _, client = witness
    stranger = MemoryLog("elsewhere.test/log").grow(3)
    assert_problem(await add(client, stranger.request(0)), 404, "unknown_log")
    impostor = MemoryLog(memory_log.signer.name, seed=b"\2" * 32).grow(10)
    assert_problem(await add(client, impostor.request(0)), 403, "not_signed_by_the_log")


async def test_malformed_bodies_are_400(witness: Running, memory_log: MemoryLog) -> None:
    _, client = witness
    note = memory_log.note().encode()
    for body in (
        b"old 01\n\n" + note,
        b"old -1\n\n" + note,
        b"old 0\n" + note,
        b"old 0\nAAAA\n\n" + note,
        b"new 0\n\n" + note,
        b"old 0\n\n" + note.replace(b"\n10\n", b"\n010\n"),
        b"\xff",
    ):
        response = await add(client, body)
        assert response.status_code in (400, 403), body
    assert_problem(await add(client, b"old 0\nAAAA\n\n" + note), 400, "malformed_request")
    unsigned = memory_log.note().partition("\n\n")[0].encode() + b"\n"
    assert_problem(await add(client, b"old 0\n\n" + unsigned), 400, "malformed_checkpoint")


async def test_two_submissions_at_once_do_not_both_win(
    witness: Running, memory_log: MemoryLog
) -> None:
    _, client = witness
    assert (await add(client, memory_log.request(0))).status_code == 200
    a = memory_log.fork(10, "a ").grow(5)
    b = memory_log.fork(10, "b ").grow(5)
    answers = await asyncio.gather(*(add(client, log.request(10)) for log in (a, b) * 4))
    statuses = sorted(answer.status_code for answer in answers)
    # Exactly one of the two forks of 15 wins; the other gets 409 (stale old, or a fork).
    assert statuses.count(200) >= 1
    winners = {
        bytes(log.root())
        for log, answer in zip((a, b) * 4, answers, strict=True)
        if answer.status_code == 200
    }
    assert len(winners) == 1
    assert set(statuses) <= {200, 409}


async def test_the_witness_remembers_across_restarts(
    witness_settings: WitnessFactory, memory_log: MemoryLog
) -> None:
    settings = witness_settings([memory_log.vkey])
    async with running(create_app(settings)) as client:
        assert (await add(client, memory_log.request(0))).status_code == 200
    async with running(create_app(settings)) as client:
        assert_conflict(await add(client, memory_log.request(0)), 10)


async def test_two_processes_on_one_file_cannot_both_swap_from_the_same_checkpoint(
    tmp_path: Path,
) -> None:
    # Two witness processes sharing a file (a restart overlapping the old process): each
    # read the same checkpoint; the compare-and-swap lets only the first replace it.
    first, second = Storage(tmp_path / "w.sqlite3"), Storage(tmp_path / "w.sqlite3")
    first.create()
    held = Held(10, b"\1" * 32, "n10")
    assert await first.replace("log", None, held)
    assert not await second.replace("log", None, held)  # no row expected: there is one
    seen_by_both = await second.held("log")
    assert seen_by_both == held
    assert await first.replace("log", seen_by_both, Held(15, b"\2" * 32, "a"))
    assert not await second.replace("log", seen_by_both, Held(15, b"\3" * 32, "b"))
    assert await second.held("log") == Held(15, b"\2" * 32, "a")
    first.close()
    second.close()


async def test_a_log_that_starts_empty_is_cosigned_as_it_grows(
    witness_settings: WitnessFactory,
) -> None:
    # A fresh service signs the checkpoint of its empty tree first: every tree extends it.
    log = MemoryLog()
    async with running(create_app(witness_settings([log.vkey]))) as client:
        assert (await add(client, log.request(0))).status_code == 200
        log.grow(5)
        assert (await add(client, log.request(0))).status_code == 200
        log.grow(3)
        assert_conflict(await add(client, log.request(0)), 5)
        assert (await add(client, log.request(5))).status_code == 200
