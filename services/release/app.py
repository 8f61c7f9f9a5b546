"""The release service's FastAPI app."""

from pathlib import Path

from fastapi import FastAPI

from services.release.settings import ReleaseSettings
from shared.web import build_app

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(settings: ReleaseSettings | None = None) -> FastAPI:
    """Build the release service's app from its settings."""
    return build_app(
        settings or ReleaseSettings(),
        title="Ketenpas release service",
        description="Releases, the chain of signed handovers, holds and gate decisions.",
        routers=[],
    )
