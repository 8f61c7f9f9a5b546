"""`ketenpas log verify` catches every kind of tampering a database administrator could try."""

from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from typer.testing import CliRunner

from services.cli import app as cli
from shared.audit.verify import VerificationFailed, verify_log
from shared.db import transaction
from tests.audit_helpers import append_events, integrate_all, parts, raw_sql, rewrite_history

AppAndClient = tuple[FastAPI, httpx.AsyncClient]


async def verify(app: FastAPI, state: Path | None = None, *, with_database: bool = True) -> int:
    """Run the verifier against the in-process app; returns the verified size."""
    settings = app.state.settings
    report = await verify_log(
        "http://testserver",
        app.state.audit_log.verifier_key,
        state_path=state,
        database_url=settings.database_url if with_database else None,
        database_schema=settings.database_schema,
        transport=httpx.ASGITransport(app=app),
    )
    return report.size


async def tamper(app: FastAPI, sql: str, **params: object) -> None:
    """Change stored rows behind the service's back, as a database administrator could."""
    sessions, log = parts(app)
    async with transaction(sessions) as session:
        await raw_sql(session, sql, **params)
    log.cache.clear()


@pytest.fixture
async def log_of_600(release_app: AppAndClient) -> FastAPI:
    app, _ = release_app
    await append_events(parts(app)[0], 600, per_transaction=100)
    await integrate_all(app)
    return app


async def test_an_untouched_log_verifies_with_and_without_database(log_of_600: FastAPI) -> None:
    assert await verify(log_of_600) == 600
    assert await verify(log_of_600, with_database=False) == 600


async def test_edited_event_row_is_caught_at_its_index(log_of_600: FastAPI) -> None:
    await tamper(
        log_of_600,
        "UPDATE audit_events SET event = replace(event, :old, :new) WHERE log_index = 300",
        old='"n":300',
        new='"n":301',
    )
    with pytest.raises(VerificationFailed) as failure:
        await verify(log_of_600)
    assert failure.value.index == 300
    assert "edited" in failure.value.reason


async def test_edited_event_with_recomputed_commitment_is_caught_by_the_tiles(
    log_of_600: FastAPI,
) -> None:
    # The administrator re-commits the edited event; the stored tile hash no longer matches.
    await tamper(log_of_600, "UPDATE audit_events SET commitment = salt WHERE log_index = 42")
    with pytest.raises(VerificationFailed) as failure:
        await verify(log_of_600, with_database=False)
    assert failure.value.index == 42


async def test_deleted_row_is_caught_at_its_index(log_of_600: FastAPI) -> None:
    await tamper(log_of_600, "DELETE FROM audit_events WHERE log_index = 17")
    for with_database in (True, False):
        with pytest.raises(VerificationFailed) as failure:
            await verify(log_of_600, with_database=with_database)
        assert failure.value.index == 17


async def test_changed_tile_hash_is_caught_at_its_index(log_of_600: FastAPI) -> None:
    # Flip the hash at position 5 of the second level-0 tile: entry 261.
    sessions, _ = parts(log_of_600)
    async with transaction(sessions) as session:
        [(tile,)] = await raw_sql(
            session, "SELECT hashes FROM audit_tiles WHERE level = 0 AND tile_index = 1"
        )
    damaged = bytearray(tile)
    damaged[5 * 32] ^= 1
    async with transaction(sessions) as session:
        await raw_sql(
            session,
            "UPDATE audit_tiles SET hashes = :h WHERE level = 0 AND tile_index = 1",
            h=bytes(damaged),
        )
    parts(log_of_600)[1].cache.clear()
    with pytest.raises(VerificationFailed) as failure:
        await verify(log_of_600, with_database=False)
    assert failure.value.index == 261


async def test_truncated_tail_is_caught_at_the_first_missing_index(log_of_600: FastAPI) -> None:
    await tamper(log_of_600, "DELETE FROM audit_events WHERE log_index >= 590")
    with pytest.raises(VerificationFailed) as failure:
        await verify(log_of_600, with_database=False)
    assert failure.value.index == 590


async def test_rolled_back_checkpoint_is_caught_by_the_state_file(
    release_app: AppAndClient, tmp_path: Path
) -> None:
    app, _ = release_app
    sessions, _ = parts(app)
    await append_events(sessions, 20, per_transaction=20)
    await integrate_all(app)
    await append_events(sessions, 10, per_transaction=10)
    await integrate_all(app)
    state = tmp_path / "state.json"
    assert await verify(app, state) == 30
    # The administrator rolls the whole log back to the older checkpoint.
    await tamper(app, "DELETE FROM audit_checkpoints WHERE size = 30")
    await tamper(app, "DELETE FROM audit_events WHERE log_index >= 20")
    await tamper(app, "UPDATE audit_tree SET size = 20")
    assert await verify(app) == 20  # without memory of the past, a shorter log looks fine
    with pytest.raises(VerificationFailed) as failure:
        await verify(app, state)
    assert "rollback" in failure.value.reason


async def test_fork_signed_with_the_log_key_is_caught_by_the_state_file(
    release_app: AppAndClient, tmp_path: Path
) -> None:
    app, _ = release_app
    await append_events(parts(app)[0], 20, per_transaction=20)
    await integrate_all(app)
    state = tmp_path / "state.json"
    assert await verify(app, state) == 20
    # Even with the signing key, rewriting history shows: rebuild the tree over changed events.
    await rewrite_history(app, index=3)
    assert await verify(app) == 20  # a fresh verifier sees a consistent (forged) log
    with pytest.raises(VerificationFailed) as failure:
        await verify(app, state, with_database=False)
    assert "fork" in failure.value.reason


async def test_checkpoint_signed_by_another_key_is_refused(log_of_600: FastAPI) -> None:
    other = "ketenpas.localhost/release-log+00000000+AQ" + "A" * 42 + "="
    with pytest.raises(ValueError):
        await verify_log("http://testserver", other, transport=httpx.ASGITransport(app=log_of_600))


def test_cli_verify_exits_non_zero_and_names_the_index(monkeypatch: pytest.MonkeyPatch) -> None:
    async def failing(*_args: object, **_kwargs: object) -> None:
        raise VerificationFailed("hash tile does not match the entry", 12)

    monkeypatch.setattr("services.cli.verify_log", failing)
    result = CliRunner().invoke(cli, ["log", "verify", "http://127.0.0.1:1", "--key", "k"])
    assert result.exit_code == 1
    assert "first bad index: 12" in result.output
