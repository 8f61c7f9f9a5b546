"""App factories for uvicorn's worker processes (`ketenpas serve` with WORKERS > 1).

Each worker builds its app from the environment, as the single-process path does.
"""

from fastapi import FastAPI

from services.registry import SERVICES
from shared.logging import configure_logging
from shared.web import freeze_startup_heap


def _build(name: str) -> FastAPI:
    spec = SERVICES[name]
    settings = spec.settings()
    configure_logging(settings.log_level)
    app = spec.create_app(settings)
    freeze_startup_heap()
    return app


def identity() -> FastAPI:
    """The identity service, configured from `KETENPAS_IDENTITY_*`."""
    return _build("identity")


def release() -> FastAPI:
    """The release service, configured from `KETENPAS_RELEASE_*`."""
    return _build("release")
