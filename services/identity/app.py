"""The identity service's FastAPI app."""

from pathlib import Path

from fastapi import FastAPI

from services.identity.settings import IdentitySettings
from shared.web import build_app

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(settings: IdentitySettings | None = None) -> FastAPI:
    """Build the identity service's app from its settings."""
    return build_app(
        settings or IdentitySettings(),
        title="Ketenpas identity service",
        description="Parties, people, keys, credentials, status lists, tokens and gate passes.",
        routers=[],
    )
