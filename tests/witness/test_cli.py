"""The witness and guard on the command line."""

import json
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from services.cli import app as cli
from shared.tlog.cosignature import parse_cosigner_key
from tests.audit_helpers import append_events, parts, rewrite_history
from tests.helpers import invoke_cli

AppAndClient = tuple[FastAPI, httpx.AsyncClient]


async def test_witness_key_prints_a_cosigner_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KETENPAS_WITNESS_NAME", "police.example/witness")
    result = await invoke_cli(cli, ["witness", "key"])
    assert result.exit_code == 0, result.output
    assert parse_cosigner_key(result.output.strip()).name == "police.example/witness"


async def test_log_verify_refuses_a_malformed_witness_key() -> None:
    result = await invoke_cli(
        cli, ["log", "verify", "http://127.0.0.1:1", "--key", "k", "--witness", "nonsense"]
    )
    assert result.exit_code == 2
    assert "--witness" in result.output


async def test_log_sequence_keeps_its_checkpoint_outside_the_database_and_refuses_a_fork(
    release_app: AppAndClient, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    app, _ = release_app
    settings = app.state.settings
    state = tmp_path / "release-log.json"
    monkeypatch.setenv("KETENPAS_RELEASE_DATABASE_URL", settings.database_url)
    if settings.database_schema:
        monkeypatch.setenv("KETENPAS_RELEASE_DATABASE_SCHEMA", settings.database_schema)
    monkeypatch.setenv("KETENPAS_RELEASE_LOG_GUARD_STATE_FILE", str(state))
    await append_events(parts(app)[0], 4)
    first = await invoke_cli(cli, ["log", "sequence", "release"])
    assert first.exit_code == 0, first.output
    assert json.loads(state.read_text())["size"] == 4
    await rewrite_history(app, index=1)
    await append_events(parts(app)[0], 1)
    refused = await invoke_cli(cli, ["log", "sequence", "release"])
    assert refused.exit_code == 1
    assert "REFUSED" in refused.output and "rewrite" in refused.output
    assert json.loads(state.read_text())["size"] == 4
