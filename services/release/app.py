"""The release service's FastAPI app."""

from pathlib import Path

import httpx
from fastapi import FastAPI

from services.release.access import keeper as access_log_keeper
from services.release.alerts.endpoints import router as alerts_router
from services.release.chain.endpoints import router as chain_router
from services.release.deps import VerifiedTokens
from services.release.evidence.endpoints import router as evidence_router
from services.release.exposure.endpoints import router as exposure_router
from services.release.figures.endpoints import router as figures_router
from services.release.gate.endpoints import router as gate_router
from services.release.gate.passes import forget_expired
from services.release.identity_api import IdentityApi
from services.release.identity_directory import IdentityDirectory
from services.release.inspections.endpoints import router as inspections_router
from services.release.inspections.keys import DrawingKey
from services.release.inspections.policy_endpoints import router as policies_router
from services.release.investigations.endpoints import router as investigations_router
from services.release.monitoring import runner as monitoring
from services.release.reconcile import schedule as reconcile_schedule
from services.release.releases.endpoints import router as releases_router
from services.release.settings import ReleaseSettings
from services.release.visits import scheduler as visit_scheduler
from services.release.visits.endpoints import router as visits_router
from services.release.webhooks import dispatcher as webhook_dispatcher
from services.release.webhooks.endpoints import router as webhooks_router
from services.release.webhooks.fanout import forget_fanned_out
from services.release.yard.endpoints import router as yard_router
from shared.housekeeping import Chore
from shared.observability.tracing import trace_client
from shared.request_scope import RememberRequestScope
from shared.verifier_cache import VerifierCache
from shared.web import build_app

MIGRATIONS = Path(__file__).parent / "migrations"
# What the service deletes on a schedule and on `ketenpas housekeeping purge`.
CHORES: dict[str, Chore] = {
    "used_gate_passes": forget_expired,
    "webhook_outbox": forget_fanned_out,
}


def create_app(
    settings: ReleaseSettings | None = None,
    *,
    identity_transport: httpx.AsyncBaseTransport | None = None,
) -> FastAPI:
    """Build the release service's app from its settings.

    `identity_transport` replaces the network between this service and the identity
    service (tests run both in one process).
    """
    settings = settings or ReleaseSettings()

    async def connect_identity(app: FastAPI) -> None:
        client = httpx.AsyncClient(
            base_url=settings.identity_url,
            timeout=settings.identity_timeout_seconds,
            transport=identity_transport,
        )
        trace_client(app, client)  # the trace goes on to the identity service, if traced
        app.state.identity_client = client
        app.state.identity_directory = IdentityDirectory(
            client,
            issuer=settings.identity_issuer,
            verifier_cache=VerifierCache(),
            refresh_seconds=settings.identity_refresh_seconds,
            max_staleness_seconds=settings.identity_max_staleness_seconds,
            recheck_seconds=settings.identity_recheck_seconds,
            max_entries=settings.identity_cache_entries,
        )
        app.state.identity_api = IdentityApi(client)
        app.state.verified_tokens = VerifiedTokens()
        app.state.drawing_key = DrawingKey(settings.inspection_vrf_seed())
        visit_scheduler.start(app, settings)
        monitoring.start(app, settings)
        access_log_keeper.start(app, settings)
        reconcile_schedule.start(app, settings)
        webhook_dispatcher.start(app, settings)

    async def disconnect_identity(app: FastAPI) -> None:
        await visit_scheduler.stop(app)
        await monitoring.stop(app)
        await access_log_keeper.stop(app)
        await reconcile_schedule.stop(app)
        # Last: what the others wrote while stopping is in the outbox for the next process;
        # a send in flight finishes (bounded by its timeout) before the directory closes.
        await webhook_dispatcher.stop(app)
        await app.state.identity_directory.close()
        await app.state.identity_client.aclose()

    app = build_app(
        settings,
        title="Ketenpas release service",
        description=(
            "Releases, the chain of signed handovers, holds, gate decisions and inspections."
        ),
        routers=[
            releases_router,
            chain_router,
            gate_router,
            yard_router,
            inspections_router,
            policies_router,
            alerts_router,
            visits_router,
            evidence_router,
            exposure_router,
            figures_router,
            investigations_router,
            webhooks_router,
        ],
        on_startup=connect_identity,
        on_shutdown=disconnect_identity,
        chores=CHORES,
        housekeeping_interval=settings.housekeeping_interval_seconds,
    )
    # The access log names the endpoint each read came through (shared/request_scope.py).
    app.add_middleware(RememberRequestScope)
    return app
