"""The services push each checkpoint to their witnesses, keep the cosignatures and serve them."""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI

from services.registry import SERVICES
from services.witness.app import create_app as create_witness
from shared.audit.sequencer import Sequencer, step
from shared.audit.verify import VerificationFailed, verify_log
from shared.audit.witnessing import WitnessPool
from shared.tlog.cosignature import CosignatureSigner, verify_cosignatures
from shared.tlog.receipt import parse_receipt
from tests.audit_helpers import append_events, parts, raw_sql, rewrite_history
from tests.conftest import SettingsFactory, running
from tests.witness.conftest import WitnessFactory, witness_cosigner

WITNESS_URL = "http://witness.test"


@dataclass
class Witnessed:
    """The release service with one in-process witness configured."""

    app: FastAPI
    client: httpx.AsyncClient
    witness: FastAPI

    @property
    def sequencer(self) -> Sequencer:
        sequencer: Sequencer = self.app.state.sequencer
        return sequencer

    @property
    def pool(self) -> WitnessPool:
        assert self.sequencer.witnesses is not None
        return self.sequencer.witnesses

    async def sign_and_push(self) -> list[str]:
        sessions, log = parts(self.app)
        result = await step(
            sessions,
            signer=log.signer,
            origin=log.origin,
            batch_size=10_000,
            sign=True,
            guard=self.sequencer.guard,
        )
        assert result.note is not None
        return await self.pool.push(result.note)

    async def checkpoint(self) -> str:
        return (await self.client.get("/log/checkpoint")).text

    async def verify(self, **kwargs: object) -> int:
        report = await verify_log(
            "http://testserver",
            self.app.state.audit_log.verifier_key,
            transport=httpx.ASGITransport(app=self.app),
            **kwargs,  # type: ignore[arg-type]
        )
        return report.size


@pytest.fixture
async def witnessed(
    make_settings: SettingsFactory, witness_settings: WitnessFactory
) -> AsyncIterator[Witnessed]:
    # The witness must know the log's key, and the log the witness's: build both, then wire.
    probe = SERVICES["release"].create_app(make_settings("release"))
    witness = create_witness(witness_settings([probe.state.audit_log.verifier_key]))
    vkey = witness_cosigner(witness).vkey
    app = SERVICES["release"].create_app(
        make_settings("release", audit_witnesses=[f"{WITNESS_URL},{vkey}"], audit_min_witnesses=1)
    )
    app.state.witness_transport = httpx.ASGITransport(app=witness)
    async with running(witness), running(app) as client:
        yield Witnessed(app, client, witness)


async def test_each_checkpoint_is_cosigned_and_served_with_its_cosignature(
    witnessed: Witnessed,
) -> None:
    sessions, _ = parts(witnessed.app)
    await append_events(sessions, 10)
    lines = await witnessed.sign_and_push()
    assert len(lines) == 1
    note = await witnessed.checkpoint()
    cosigner = witness_cosigner(witnessed.witness)
    assert note.endswith(lines[0])
    assert set(verify_cosignatures(note, [cosigner])) == {cosigner.name}
    # The next checkpoint is pushed with a consistency proof from the size the witness holds.
    await append_events(sessions, 7)
    assert len(await witnessed.sign_and_push()) == 1
    assert witnessed.pool.status()[0]["cosigned_size"] == 17
    assert await witnessed.verify(witnesses=[cosigner], min_witnesses=1) == 17
    status = (await witnessed.client.get("/v1/log/status")).json()
    assert status["witnesses"][0]["cosigned_size"] == 17 and status["signing"] is True


async def test_receipts_carry_the_cosigned_checkpoint(witnessed: Witnessed) -> None:
    sessions, _ = parts(witnessed.app)
    [event_id, *_] = await append_events(sessions, 3)
    await witnessed.sign_and_push()
    receipt = await witnessed.client.get(f"/v1/log/events/{event_id}/receipt")
    assert receipt.status_code == 200
    parsed = parse_receipt(receipt.text)
    assert verify_cosignatures(parsed.checkpoint, [witness_cosigner(witnessed.witness)])


async def test_too_few_valid_cosignatures_are_refused_by_the_verifier(
    witnessed: Witnessed,
) -> None:
    sessions, _ = parts(witnessed.app)
    await append_events(sessions, 4)
    cosigner = witness_cosigner(witnessed.witness)
    other = CosignatureSigner("witness.test/w2", Ed25519PrivateKey.generate())
    # Not yet pushed: no cosignature at all.
    await step(
        sessions,
        signer=parts(witnessed.app)[1].signer,
        origin=parts(witnessed.app)[1].origin,
        batch_size=100,
        sign=True,
        guard=witnessed.sequencer.guard,
    )
    with pytest.raises(VerificationFailed, match="witnesses"):
        await witnessed.verify(witnesses=[cosigner], min_witnesses=1)
    await witnessed.pool.push(await witnessed.checkpoint())
    assert await witnessed.verify(witnesses=[cosigner], min_witnesses=1) == 4
    # Two of two asked for, one given.
    with pytest.raises(VerificationFailed, match="1 valid cosignature"):
        await witnessed.verify(witnesses=[cosigner, other.verifier()], min_witnesses=2)


async def test_a_forked_log_is_refused_by_the_witness_and_raises_the_alarm(
    witnessed: Witnessed,
) -> None:
    sessions, _ = parts(witnessed.app)
    cosigner = witness_cosigner(witnessed.witness)
    await append_events(sessions, 12)
    await witnessed.sign_and_push()
    # An insider with the database and the key rebuilds the log with one event changed and
    # signs it: the same size, another root. The witness refuses to cosign it.
    await rewrite_history(witnessed.app, index=5)
    forked = await witnessed.checkpoint()
    assert await witnessed.pool.push(forked) == []
    assert "fork" in (witnessed.sequencer.guard.alarm or "")
    # A verifier that asks for a witness refuses the fork the log now serves.
    with pytest.raises(VerificationFailed, match="witnesses"):
        await witnessed.verify(witnesses=[cosigner], min_witnesses=1)
    refusals = await witnessed.witness.state.witness.storage.refusals()
    assert [status for _, status, _ in refusals] == [409]


async def test_a_forked_log_that_grew_is_422_at_the_witness(witnessed: Witnessed) -> None:
    sessions, _ = parts(witnessed.app)
    await append_events(sessions, 12)
    await witnessed.sign_and_push()
    await rewrite_history(witnessed.app, index=5)
    await append_events(sessions, 3)
    sessions, log = parts(witnessed.app)
    # Signed without the guard, as an insider would; pushed from the size the witness holds.
    result = await step(sessions, signer=log.signer, origin=log.origin, batch_size=99, sign=True)
    assert result.note is not None
    assert await witnessed.pool.push(result.note) == []
    assert "refused the proof" in (witnessed.sequencer.guard.alarm or "")


async def test_a_rolled_back_database_is_caught_by_the_witness_after_a_restart(
    make_settings: SettingsFactory, witnessed: Witnessed
) -> None:
    sessions, log = parts(witnessed.app)
    await append_events(sessions, 12)
    await witnessed.sign_and_push()
    # The database is restored to an older state; the new process remembers nothing.
    async with sessions() as session, session.begin():
        for statement in (
            "DELETE FROM audit_tiles",
            "DELETE FROM audit_checkpoints",
            "DELETE FROM audit_tree",
            "DELETE FROM audit_events WHERE log_index >= 8",
            "UPDATE audit_events SET log_index = NULL",
        ):
            await raw_sql(session, statement)
    log.cache.clear()
    settings = witnessed.app.state.settings
    restarted = SERVICES["release"].create_app(settings)
    restarted.state.witness_transport = httpx.ASGITransport(app=witnessed.witness)
    async with running(restarted):
        again = Witnessed(restarted, witnessed.client, witnessed.witness)
        assert await again.sign_and_push() == []
        assert "rollback" in (again.sequencer.guard.alarm or "")


async def test_a_witness_that_never_answers_costs_a_bounded_wait(witnessed: Witnessed) -> None:
    never = asyncio.Event()

    async def hang(request: httpx.Request) -> httpx.Response:
        await never.wait()
        return httpx.Response(500)

    sessions, _ = parts(witnessed.app)
    await append_events(sessions, 2)
    pool = witnessed.pool
    pool.transport = httpx.MockTransport(hang)
    pool.timeout = 0.05
    assert await witnessed.sign_and_push() == []
    assert "TimeoutError" in str(pool.status()[0]["error"])
    assert witnessed.sequencer.guard.alarm is None


async def test_the_background_sequencer_hands_each_checkpoint_to_the_pusher(
    witnessed: Witnessed,
) -> None:
    sessions, _ = parts(witnessed.app)
    await append_events(sessions, 3)
    pool = witnessed.pool
    pusher = asyncio.create_task(pool.run())
    try:
        assert await witnessed.sequencer.run_once() == 3
        # The pusher runs on its own; wait until it says it pushed.
        async with asyncio.timeout(30):
            await pool.pushed_signal.wait()
    finally:
        pusher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await pusher
    note = await witnessed.checkpoint()
    assert verify_cosignatures(note, [witness_cosigner(witnessed.witness)])
