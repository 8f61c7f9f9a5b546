"""The identity service's FastAPI app."""

from pathlib import Path

from fastapi import FastAPI

from services.identity.credentials.endpoints import router as credentials_router
from services.identity.exposure.endpoints import router as exposure_router
from services.identity.figures.endpoints import router as figures_router
from services.identity.gatepass.endpoints import router as gatepass_router
from services.identity.keys.endpoints import router as keys_router
from services.identity.monitoring import runner as monitoring
from services.identity.monitoring.endpoints import router as alerts_router
from services.identity.oauth.endpoints import router as oauth_router
from services.identity.oauth.service import purge_used_assertions
from services.identity.parties.endpoints import directory_router as party_search_router
from services.identity.parties.endpoints import router as parties_router
from services.identity.people.endpoints import party_people_router
from services.identity.people.endpoints import router as people_router
from services.identity.sessions.endpoints import router as sessions_router
from services.identity.settings import IdentitySettings
from services.identity.signing import service as signing
from services.identity.signing.endpoints import router as signing_router
from services.identity.signing.keyring import KeyRingCache
from shared.db import transaction
from shared.housekeeping import Chore
from shared.models import utcnow
from shared.request_scope import RememberRequestScope
from shared.web import build_app

MIGRATIONS = Path(__file__).parent / "migrations"
# What the service deletes on a schedule and on `ketenpas housekeeping purge`.
CHORES: dict[str, Chore] = {"used_assertions": purge_used_assertions}


def create_app(settings: IdentitySettings | None = None) -> FastAPI:
    """Build the identity service's app from its settings."""
    settings = settings or IdentitySettings()

    async def on_startup(app: FastAPI) -> None:
        async with transaction(app.state.sessions) as session:
            await signing.ensure_key(session, settings, utcnow())
        app.state.keyring = KeyRingCache(settings, app.state.read_sessions)
        monitoring.start(app, settings)

    app = build_app(
        settings,
        title="Ketenpas identity service",
        description="Parties, people, keys, credentials, status lists, tokens and gate passes.",
        routers=[
            signing_router,
            oauth_router,
            parties_router,
            party_search_router,
            people_router,
            party_people_router,
            keys_router,
            credentials_router,
            sessions_router,
            gatepass_router,
            alerts_router,
            exposure_router,
            figures_router,
        ],
        on_startup=on_startup,
        on_shutdown=monitoring.stop,
        chores=CHORES,
        housekeeping_interval=settings.housekeeping_interval_seconds,
    )
    # A recorded read names the endpoint it came through (shared/request_scope.py).
    app.add_middleware(RememberRequestScope)
    return app
