"""The services Ketenpas runs, by name: how to configure, build and migrate each."""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from fastapi import FastAPI

from services.identity import app as identity_app
from services.identity.settings import IdentitySettings
from services.release import app as release_app
from services.release.settings import ReleaseSettings
from shared.settings import DatabaseSettings, ServiceSettings


@dataclass(frozen=True)
class ServiceSpec:
    """One service: its name, settings class, app factory and migrations."""

    name: str
    settings: Callable[[], ServiceSettings]
    create_app: Callable[..., FastAPI]
    migrations: Path
    env_prefix: str

    def database(self) -> DatabaseSettings:
        """The service's database settings alone, from its environment: migrating needs no
        key, and is not refused for the keys it is not given."""
        return DatabaseSettings(_env_prefix=self.env_prefix, service_name=self.name)


def _spec(name: str, settings: type[ServiceSettings], app: ModuleType) -> ServiceSpec:
    prefix = str(settings.model_config.get("env_prefix", ""))
    return ServiceSpec(name, settings, app.create_app, app.MIGRATIONS, prefix)


SERVICES: dict[str, ServiceSpec] = {
    "identity": _spec("identity", IdentitySettings, identity_app),
    "release": _spec("release", ReleaseSettings, release_app),
}


def selected(target: str) -> list[ServiceSpec]:
    """The services a CLI target names: one by name, or `all`."""
    if target == "all":
        return list(SERVICES.values())
    return [SERVICES[target]]
