"""Settings, app factories, health, problem documents and the CLI."""

import base64
import json
import logging
import re
import sqlite3
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import structlog
from fastapi import APIRouter, FastAPI, Request
from pydantic import ValidationError
from typer.testing import CliRunner

from services.cli import app as cli
from services.identity.settings import IdentitySettings
from services.registry import SERVICES
from services.release.settings import ReleaseSettings
from shared.audit import repository as audit_repo
from shared.audit.models import AuditEvent
from shared.demo import DEMO_IDENTITY_KEK, DEMO_IDENTITY_LOG_KEY, DEMO_RELEASE_LOG_KEY
from shared.deps import SessionDep
from shared.logging import configure_logging
from shared.problems import install_problem_handlers
from shared.tlog.note import parse_verifier_key
from shared.web import BodySizeLimit, build_app
from tests.conftest import ON_POSTGRES, SettingsFactory, running

REAL_KEY = base64.b64encode(bytes(range(32))).decode()


def test_demo_log_keys_are_refused_outside_development() -> None:
    for settings_class, demo in (
        (IdentitySettings, DEMO_IDENTITY_LOG_KEY),
        (ReleaseSettings, DEMO_RELEASE_LOG_KEY),
    ):
        with pytest.raises(ValidationError, match="demo secret"):
            settings_class(environment="production", log_signing_key=demo)
        with pytest.raises(ValidationError, match="demo secret"):
            settings_class(environment="production")  # the default is the demo key
    with pytest.raises(ValidationError, match="demo secret"):
        IdentitySettings(
            environment="production", log_signing_key=REAL_KEY, key_encryption_key=DEMO_IDENTITY_KEK
        )


def test_production_accepts_a_real_key_and_refuses_a_malformed_one() -> None:
    settings = ReleaseSettings(
        environment="production",
        log_signing_key=REAL_KEY,
        inspection_vrf_key=base64.b64encode(bytes(range(32, 64))).decode(),
        cache_url="redis://127.0.0.1:6379/0",
        identity_url="https://identity.port.example",
    )
    assert settings.log_private_key().private_bytes_raw() == bytes(range(32))
    with pytest.raises(ValidationError, match="32-byte"):
        ReleaseSettings(log_signing_key=base64.b64encode(b"short").decode())
    with pytest.raises(ValidationError, match="base64"):
        ReleaseSettings(log_signing_key="not base64!")


def test_trusted_proxies_come_from_the_environment_as_a_list_or_json(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert IdentitySettings().trusted_proxies == []  # by default nobody is believed
    monkeypatch.setenv("KETENPAS_IDENTITY_TRUSTED_PROXIES", "10.0.0.0/8, 192.0.2.7,2001:db8::/32")
    monkeypatch.setenv("KETENPAS_IDENTITY_PROXY_HEADER", "Forwarded")
    settings = IdentitySettings()
    assert [str(network) for network in settings.trusted_proxies] == [
        "10.0.0.0/8",
        "192.0.2.7/32",
        "2001:db8::/32",
    ]
    assert settings.proxy_header == "forwarded"
    monkeypatch.setenv("KETENPAS_IDENTITY_TRUSTED_PROXIES", '["10.1.0.0/16"]')
    assert [str(n) for n in IdentitySettings().trusted_proxies] == ["10.1.0.0/16"]
    monkeypatch.setenv("KETENPAS_IDENTITY_TRUSTED_PROXIES", "10.0.0.1/8")  # host bits set
    with pytest.raises(ValidationError):
        IdentitySettings()


def test_the_identity_settings_documented_in_docs_exist_with_their_defaults() -> None:
    text = Path("docs/configuration.md").read_text(encoding="utf-8")
    section = text.split("## Settings added for issue 10", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `([A-Z_]+)` \| ([^|]+?) \|", section, flags=re.MULTILINE)
    assert len(rows) >= 7
    fields = IdentitySettings.model_fields
    for name, documented in rows:
        default = fields[name.lower()].get_default(call_default_factory=True)
        expected = {"none": []}.get(documented, documented.strip("`"))
        assert (default if expected == [] else str(default)) == expected, name


def test_settings_come_from_the_service_environment_prefix(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KETENPAS_RELEASE_PORT", "9102")
    monkeypatch.setenv("KETENPAS_IDENTITY_PORT", "9101")
    assert ReleaseSettings().port == 9102
    assert IdentitySettings().port == 9101
    assert ReleaseSettings().public_url == "http://127.0.0.1:9102"


def test_services_listen_on_their_documented_ports_by_default() -> None:
    assert IdentitySettings().port == 8001
    assert ReleaseSettings().port == 8002
    assert IdentitySettings().log_origin != ReleaseSettings().log_origin


@pytest.mark.parametrize("service", sorted(SERVICES))
async def test_each_service_is_live_ready_and_documented(
    make_settings: SettingsFactory, service: str
) -> None:
    app = SERVICES[service].create_app(make_settings(service))
    async with running(app) as client:
        assert (await client.get("/healthz")).json() == {"status": "ok"}
        ready = await client.get("/readyz")
        assert ready.status_code == 200, ready.text
        openapi = (await client.get("/openapi.json")).json()
        assert "/log/checkpoint" in openapi["paths"]
        key = parse_verifier_key((await client.get("/log/key")).text.strip())
        assert key.name == f"ketenpas.localhost/{service}-log"


@pytest.mark.parametrize("warm", [False, True])
async def test_readiness_fails_when_the_database_is_away(
    make_settings: SettingsFactory, warm: bool
) -> None:
    # Nothing listens on port 1 of the loopback: the connection is refused at once. Opening
    # the pool at startup fails too, and the service starts anyway.
    settings = make_settings(
        "release",
        database_url="postgresql://postgres@127.0.0.1:1/test",
        database_pool_warm=warm,
    )
    app = SERVICES["release"].create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            response = await client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["code"] == "not_ready"
    assert response.json()["checks"]["database"] is False


async def test_unknown_paths_and_methods_are_problem_documents(
    release_app: tuple[object, httpx.AsyncClient],
) -> None:
    _, client = release_app
    missing = await client.get("/no/such/thing")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    assert missing.json()["code"] == "not_found"
    wrong_method = await client.delete("/healthz")
    assert wrong_method.status_code == 405
    assert wrong_method.json()["code"] == "method_not_allowed"


async def test_oversize_bodies_are_refused_with_413(
    release_app: tuple[object, httpx.AsyncClient],
) -> None:
    _, client = release_app
    declared = await client.post("/healthz", content=b"x" * (65 * 1024))
    assert declared.status_code == 413
    assert declared.json()["code"] == "body_too_large"


async def test_streamed_bodies_are_cut_off_at_the_limit() -> None:
    echo = FastAPI()

    @echo.post("/echo")
    async def read_all(request: Request) -> dict[str, int]:
        return {"length": len(await request.body())}

    install_problem_handlers(echo)
    limited = BodySizeLimit(echo, max_bytes=4096)

    async def chunks(count: int) -> AsyncIterator[bytes]:
        for _ in range(count):
            yield b"y" * 1024

    transport = httpx.ASGITransport(app=limited)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        small = await client.post("/echo", content=chunks(4))
        large = await client.post("/echo", content=chunks(5))
    assert small.json() == {"length": 4096}
    assert large.status_code == 413
    assert large.json()["code"] == "body_too_large"


def test_cli_migrates_seeds_sequences_and_prints_the_log_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for service in SERVICES:
        prefix = f"KETENPAS_{service.upper()}_"
        monkeypatch.setenv(prefix + "DATABASE_URL", f"sqlite:///{tmp_path / service}.sqlite3")
    runner = CliRunner()
    upgraded = runner.invoke(cli, ["db", "upgrade"])
    assert upgraded.exit_code == 0, upgraded.output
    assert "identity: database at the newest revision" in upgraded.output
    credentials = tmp_path / "demo" / "credentials.json"
    seeded = runner.invoke(cli, ["demo", "seed", "--credentials-file", str(credentials)])
    assert seeded.exit_code == 0, seeded.output
    assert "identity: demo port seeded" in seeded.output
    assert "release: demo seeded" in seeded.output
    assert "NZSU1000014  in_yard" in seeded.output
    assert credentials.stat().st_mode & 0o077 == 0
    again = runner.invoke(cli, ["demo", "seed", "--credentials-file", str(credentials)])
    assert "identity: not empty, left as it is" in again.output
    assert "release: not empty, left as it is" in again.output
    sequenced = runner.invoke(cli, ["log", "sequence", "release"])
    # The demo seed's event and the demo terminal's four yard entries.
    assert "release: 5 entries integrated" in sequenced.output
    key = runner.invoke(cli, ["log", "key", "release"])
    assert parse_verifier_key(key.output.strip()).name == "ketenpas.localhost/release-log"


def test_migrating_in_production_needs_the_database_and_no_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A migration job is given the database alone: none of the keys a service refuses to
    start without (docs/deployment.md, the db-upgrade Job)."""
    for service in SERVICES:
        prefix = f"KETENPAS_{service.upper()}_"
        monkeypatch.setenv(prefix + "ENVIRONMENT", "production")
        monkeypatch.setenv(prefix + "DATABASE_URL", f"sqlite:///{tmp_path / service}.sqlite3")
    with pytest.raises(ValueError, match="outside development mode"):
        SERVICES["release"].settings()  # the service itself would not start so
    upgraded = CliRunner().invoke(cli, ["db", "upgrade"])
    assert upgraded.exit_code == 0, upgraded.output
    for service in SERVICES:
        assert f"{service}: database at the newest revision" in upgraded.output
        with sqlite3.connect(tmp_path / f"{service}.sqlite3") as db:
            assert db.execute("SELECT version_num FROM alembic_version").fetchone()


def test_demo_seed_is_refused_outside_development(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KETENPAS_IDENTITY_ENVIRONMENT", "production")
    monkeypatch.setenv("KETENPAS_IDENTITY_LOG_SIGNING_KEY", REAL_KEY)
    monkeypatch.setenv("KETENPAS_IDENTITY_KEY_ENCRYPTION_KEY", REAL_KEY)
    monkeypatch.setenv("KETENPAS_IDENTITY_SCREENING_KEY", REAL_KEY)
    monkeypatch.setenv("KETENPAS_IDENTITY_CACHE_URL", "redis://127.0.0.1:6379/0")
    result = CliRunner().invoke(cli, ["demo", "seed"])
    assert result.exit_code == 2
    assert "development mode only" in result.output


def test_logs_are_one_json_object_per_line(capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    try:
        configure_logging("INFO")
        structlog.get_logger("ketenpas.test").info("gate_decided", decision="release")
        logging.getLogger("uvicorn.access").info("GET /healthz 200")
        lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
        structlog.reset_defaults()
    assert lines[0]["event"] == "gate_decided" and lines[0]["decision"] == "release"
    assert lines[0]["level"] == "info" and "timestamp" in lines[0]
    assert lines[1]["logger"] == "uvicorn.access"


@pytest.mark.parametrize("text", ["nul\\u0000byte", "lone\\ud800surrogate"])
async def test_unstorable_characters_are_a_422_and_store_nothing(
    make_settings: SettingsFactory, text: str
) -> None:
    router = APIRouter()

    @router.post("/store")
    async def store(body: dict[str, str], session: SessionDep) -> dict[str, str]:
        session.add(
            AuditEvent(
                event_id=uuid.uuid4(),
                event_type=body["text"],
                event="{}",
                salt=b"s",
                commitment=b"c",
            )
        )
        await session.flush()
        return {"stored": "yes"}

    app = build_app(make_settings("release"), title="t", description="t", routers=[router])
    async with running(app) as client:
        body = '{"text": "' + text + '"}'
        response = await client.post(
            "/store", content=body.encode(), headers={"content-type": "application/json"}
        )
        if response.status_code == 200:
            # SQLite stores a NUL as it is: then it is not an error at all.
            assert "u0000" in text and not ON_POSTGRES
            return
        assert response.status_code == 422
        assert response.json()["code"] == "invalid_characters"
        async with app.state.sessions() as session:
            assert await audit_repo.count_events(session) == 0


async def test_a_commit_that_fails_is_never_acknowledged(make_settings: SettingsFactory) -> None:
    router = APIRouter()
    duplicate = uuid.uuid4()

    @router.post("/twice")
    async def twice(session: SessionDep) -> dict[str, str]:
        # Two rows with the same unique event_id: only the commit at the edge finds out.
        for _ in range(2):
            session.add(
                AuditEvent(
                    event_id=duplicate, event_type="t", event="{}", salt=b"s", commitment=b"c"
                )
            )
        return {"stored": "yes"}

    app = build_app(make_settings("release"), title="t", description="t", routers=[router])
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            response = await client.post("/twice")
        async with app.state.sessions() as session:
            assert await audit_repo.count_events(session) == 0
    assert response.status_code >= 500
