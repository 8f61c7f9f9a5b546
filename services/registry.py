"""The services Ketenpas runs, by name: how to configure, build and migrate each."""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI

from services.identity import app as identity_app
from services.identity.settings import IdentitySettings
from services.release import app as release_app
from services.release.settings import ReleaseSettings
from shared.settings import ServiceSettings


@dataclass(frozen=True)
class ServiceSpec:
    """One service: its name, settings class, app factory and migrations."""

    name: str
    settings: Callable[[], ServiceSettings]
    create_app: Callable[..., FastAPI]
    migrations: Path


SERVICES: dict[str, ServiceSpec] = {
    "identity": ServiceSpec(
        "identity", IdentitySettings, identity_app.create_app, identity_app.MIGRATIONS
    ),
    "release": ServiceSpec(
        "release", ReleaseSettings, release_app.create_app, release_app.MIGRATIONS
    ),
}


def selected(target: str) -> list[ServiceSpec]:
    """The services a CLI target names: one by name, or `all`."""
    if target == "all":
        return list(SERVICES.values())
    return [SERVICES[target]]
