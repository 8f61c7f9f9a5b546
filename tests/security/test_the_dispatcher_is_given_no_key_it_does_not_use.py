"""Threat: the webhook dispatcher is the one process that opens connections to addresses
its subscribers chose, and reads what they answer. Were it broken into, whatever keys it
holds would be taken: the inspection VRF key (every future draw foreseen: when the dog
comes, which container is checked), the log's signing key (a rewritten log signed anew).

So `ketenpas webhooks run` reads only what it uses (`DispatcherSettings`): it starts in
production with the database, the identity service and the webhook key alone, where the
release service's own settings refuse to start; the Kubernetes Deployment gives it no
other secret; and what it does read is checked as strictly as the release service checks
it (no demo key, no private receivers, the identity service over HTTPS).
"""

import base64

import pytest

from services.release.settings import ReleaseSettings
from services.release.webhooks.settings import DispatcherSettings
from shared.demo import DEMO_WEBHOOK_SECRET_KEY
from tests.deploy.manifests import overlay, pods

WEBHOOK_KEY = base64.b64encode(bytes(range(32, 64))).decode()
PRODUCTION = {
    "KETENPAS_RELEASE_ENVIRONMENT": "production",
    "KETENPAS_RELEASE_DATABASE_URL": "postgresql://ketenpas@db/ketenpas",
    "KETENPAS_RELEASE_IDENTITY_URL": "https://identity.port.example",
    "KETENPAS_RELEASE_PUBLIC_URL": "https://release.port.example",
    "KETENPAS_RELEASE_WEBHOOK_SECRET_KEY": WEBHOOK_KEY,
}
KEYS_IT_NEVER_HOLDS = ("log_signing_key", "inspection_vrf_key", "cache_url")


@pytest.fixture
def production(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in KEYS_IT_NEVER_HOLDS:
        monkeypatch.delenv(f"KETENPAS_RELEASE_{name.upper()}", raising=False)
    for name, value in PRODUCTION.items():
        monkeypatch.setenv(name, value)


@pytest.mark.usefixtures("production")
def test_it_starts_in_production_without_the_keys_the_release_service_needs() -> None:
    with pytest.raises(ValueError, match="outside development mode"):
        ReleaseSettings()  # the release service itself would not start so
    settings = DispatcherSettings()
    assert settings.webhook_key() == base64.b64decode(WEBHOOK_KEY)
    assert settings.public_url == PRODUCTION["KETENPAS_RELEASE_PUBLIC_URL"]
    for name in KEYS_IT_NEVER_HOLDS:
        assert not hasattr(settings, name), name


@pytest.mark.usefixtures("production")
@pytest.mark.parametrize(
    ("name", "value", "refusal"),
    [
        ("WEBHOOK_SECRET_KEY", DEMO_WEBHOOK_SECRET_KEY, "demo secret is refused"),
        ("WEBHOOK_ALLOW_PRIVATE", "true", "webhook_allow_private is refused"),
        ("IDENTITY_URL", "http://identity.port.example", "identity_url must be https://"),
    ],
)
def test_what_it_reads_is_checked_as_the_release_service_checks_it(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, refusal: str
) -> None:
    monkeypatch.setenv(f"KETENPAS_RELEASE_{name}", value)
    with pytest.raises(ValueError, match=refusal):
        DispatcherSettings()


def test_its_deployment_is_given_the_database_and_the_webhook_key_alone() -> None:
    for name in ("development", "production"):
        [dispatcher] = [pod for pod in pods(overlay(name)) if pod.name == "ketenpas-webhooks"]
        [container] = dispatcher.spec["containers"]
        secrets = {
            entry["name"]: entry["valueFrom"]["secretKeyRef"]["key"]
            for entry in container.get("env", [])
            if "secretKeyRef" in entry.get("valueFrom", {})
        }
        assert secrets == {
            "KETENPAS_RELEASE_DATABASE_URL": "uri",
            "KETENPAS_RELEASE_WEBHOOK_SECRET_KEY": "webhook-secret-key",
        }, name
