"""docker-compose.yml, the single-host trial, checked statically (no Docker engine here)."""

import re
from typing import Any

import pytest
import yaml
from pydantic import ValidationError
from typer.testing import CliRunner

from services.cli import app as cli_app
from services.identity.settings import IdentitySettings
from services.release.settings import ReleaseSettings
from services.web.settings import WebSettings
from tests.deploy.manifests import ROOT, is_secret_setting, setting_name

KETENPAS = ("migrate", "seed", "identity", "release", "webhooks", "web")
# The one secret of the trial, taken from the environment (or .env), never from the file.
PASSWORD = "${KETENPAS_TRIAL_DB_PASSWORD:?"


def _compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return loaded


def _services() -> dict[str, dict[str, Any]]:
    services: dict[str, dict[str, Any]] = _compose()["services"]
    return services


def test_the_trial_has_the_data_stores_and_every_process() -> None:
    services = _services()
    assert set(services) == {"postgres", "redis", *KETENPAS}
    commands = {name: services[name]["command"] for name in KETENPAS}
    assert commands == {
        "migrate": ["db", "upgrade", "all"],
        "seed": ["demo", "seed"],
        "identity": ["serve", "identity"],
        "release": ["serve", "release"],
        "webhooks": ["webhooks", "run"],
        "web": ["serve", "web"],
    }
    runner = CliRunner()
    for name, command in commands.items():
        assert runner.invoke(cli_app, [*command, "--help"]).exit_code == 0, name
    # Every Ketenpas process runs the one image that Dockerfile builds.
    assert {services[name]["build"] for name in KETENPAS} == {"."}


def test_every_environment_variable_is_a_real_setting() -> None:
    for name in KETENPAS:
        for variable in _services()[name]["environment"]:
            assert setting_name(variable) is not None, (name, variable)


def test_the_trial_runs_in_development_only() -> None:
    for name in KETENPAS:
        environment = _services()[name]["environment"]
        values = {v for k, v in environment.items() if k.endswith("_ENVIRONMENT")}
        assert values == {"development"}, name


def test_no_secret_is_written_in_the_file() -> None:
    for name in KETENPAS:
        for variable, value in _services()[name]["environment"].items():
            if is_secret_setting(variable):
                # The database URL carries the password from the environment; the cache
                # has none on the trial's private network; no key is set: the demo
                # defaults apply, and they are refused outside development.
                assert variable.endswith(("DATABASE_URL", "CACHE_URL")), (name, variable)
                if variable.endswith("DATABASE_URL"):
                    assert PASSWORD in value
                    assert re.fullmatch(
                        r"postgresql://ketenpas:\$\{[^}]+\}@postgres:5432/ketenpas", value
                    )
    assert _services()["postgres"]["environment"]["POSTGRES_PASSWORD"].startswith(PASSWORD)


@pytest.mark.parametrize(
    ("service", "settings"),
    [("identity", IdentitySettings), ("release", ReleaseSettings), ("web", WebSettings)],
)
def test_the_trials_demo_secrets_are_refused_in_production(
    service: str, settings: type[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    environment = dict(_services()[service]["environment"])
    for variable, value in environment.items():
        monkeypatch.setenv(variable, value.replace(PASSWORD, "{").replace("${", "{"))
    settings()  # as the trial runs it
    prefix = next(k for k in environment if k.endswith("_ENVIRONMENT"))
    monkeypatch.setenv(prefix, "production")
    with pytest.raises(ValidationError, match="demo secret"):
        settings()


def test_the_containers_are_locked_down_and_published_on_loopback_only() -> None:
    for name in KETENPAS:
        service = _services()[name]
        assert service["read_only"] is True, name
        assert service["cap_drop"] == ["ALL"], name
        assert "no-new-privileges:true" in service["security_opt"], name
        for port in service.get("ports", []):
            assert port.startswith("127.0.0.1:"), (name, port)
    assert "ports" not in _services()["postgres"]
    assert "ports" not in _services()["redis"]


def test_the_release_service_leaves_the_webhooks_to_the_dispatcher() -> None:
    assert _services()["release"]["environment"]["KETENPAS_RELEASE_RUN_WEBHOOKS"] == "false"
    assert _services()["webhooks"]["environment"] == _services()["release"]["environment"]


def test_processes_start_in_order() -> None:
    services = _services()
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["seed"]["depends_on"]["migrate"]["condition"] == (
        "service_completed_successfully"
    )
    for name in ("identity", "release"):
        assert services[name]["depends_on"]["seed"]["condition"] == (
            "service_completed_successfully"
        )
