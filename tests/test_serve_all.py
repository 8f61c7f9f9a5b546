"""`ketenpas serve` (all services, as `make run` starts them): what a development port gets
beside its services without being configured."""

from dataclasses import replace

from services.cli import _keep_guard_state
from services.registry import selected
from tests.conftest import SettingsFactory


def test_a_development_port_keeps_each_logs_guard_state_under_var() -> None:
    environment: dict[str, str] = {}
    _keep_guard_state(environment, selected("all"))
    assert environment == {
        "KETENPAS_IDENTITY_LOG_GUARD_STATE_FILE": "var/identity-log-guard.json",
        "KETENPAS_RELEASE_LOG_GUARD_STATE_FILE": "var/release-log-guard.json",
    }


def test_a_guard_state_file_configured_already_is_kept() -> None:
    environment = {"KETENPAS_RELEASE_LOG_GUARD_STATE_FILE": "/secure/release.json"}
    _keep_guard_state(environment, selected("release"))
    assert environment == {"KETENPAS_RELEASE_LOG_GUARD_STATE_FILE": "/secure/release.json"}


def test_outside_development_nothing_is_chosen_for_the_operator(
    make_settings: SettingsFactory,
) -> None:
    production = make_settings("release", environment="production")
    [release] = selected("release")
    environment: dict[str, str] = {}
    _keep_guard_state(environment, [replace(release, settings=lambda: production)])
    assert environment == {}
