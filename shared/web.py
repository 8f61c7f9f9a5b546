"""What both FastAPI apps share: lifespan (database, cache, sequencer), health, limits."""

import asyncio
import gc
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager, suppress

import structlog
from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.audit.endpoints import router as log_router
from shared.audit.sequencer import service_sequencer
from shared.audit.service import AuditLog
from shared.cache import cache_from_url
from shared.db import create_engine, read_only, session_factory, warm_pool
from shared.housekeeping import Chore, Housekeeper
from shared.observability.metrics import observe_pool
from shared.observability.middleware import RequestMetrics
from shared.observability.tracing import install_tracing, shutdown_tracing
from shared.problems import (
    document_problems,
    install_problem_handlers,
    problem_response,
    problem_responses,
)
from shared.settings import ServiceSettings

logger = structlog.get_logger(__name__)


def freeze_startup_heap() -> None:
    """Take what the process built before serving out of the cyclic collector's sight.

    Modules, routes, models and schemas live as long as the process; left in the oldest
    generation, every full collection walks them all again, which paused the event loop for
    ~100 ms every few seconds under load (measured in the release service at 100 pickups/s).
    Frozen, a full collection walks only what requests made. Called once per serving
    process, after the app is built and before it serves (not in tests, which build many
    apps in one process and must let them go).
    """
    gc.collect()
    gc.freeze()


class BodySizeLimit:
    """Refuse request bodies over a limit with 413, before the app reads them whole."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", ())).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await self._refuse(scope, receive, send)
            return
        seen = 0

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    # Raised inside the endpoint's read, so the app's problem handler answers.
                    raise StarletteHTTPException(413, self._detail)
            return message

        await self.app(scope, limited_receive, send)

    @property
    def _detail(self) -> str:
        return f"request bodies are limited to {self.max_bytes} bytes"

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = problem_response(413, "body_too_large", self._detail)
        await response(scope, receive, send)


def build_app(
    settings: ServiceSettings,
    *,
    title: str,
    description: str,
    routers: Sequence[APIRouter],
    on_startup: Callable[[FastAPI], Awaitable[None]] | None = None,
    on_shutdown: Callable[[FastAPI], Awaitable[None]] | None = None,
    chores: Mapping[str, Chore] | None = None,
    housekeeping_interval: float = 0.0,
) -> FastAPI:
    """A service app with the common parts; the service adds its own routers and chores."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine(
            settings.database_url,
            schema=settings.database_schema,
            pool_size=settings.database_pool_size,
            pool_overflow=settings.database_pool_overflow,
        )
        if settings.database_pool_warm:
            try:
                await warm_pool(engine)
            except (OSError, SQLAlchemyError):
                # Not fatal: the service starts, /readyz says the database is not there, and
                # connections are opened on demand once it is.
                logger.warning("database_pool_warm_failed", exc_info=True)
        app.state.engine = engine
        forget_pool = observe_pool(engine)
        app.state.sessions = session_factory(engine)
        app.state.read_sessions = session_factory(read_only(engine))
        app.state.cache = cache_from_url(settings.cache_url, settings.cache_prefix)
        log: AuditLog = app.state.audit_log
        # Guarded and witnessed as the settings say (docs/witness.md); tests may put an
        # in-process transport to a witness in app.state.witness_transport.
        sequencer = service_sequencer(
            app.state.sessions,
            log,
            settings,
            witness_transport=getattr(app.state, "witness_transport", None),
        )
        app.state.sequencer = sequencer
        task = asyncio.create_task(sequencer.run()) if settings.run_sequencer else None
        housekeeper = Housekeeper(app.state.sessions, chores or {}, interval=housekeeping_interval)
        app.state.housekeeper = housekeeper
        if on_startup is not None:
            await on_startup(app)
        app.state.housekeeping_task = (
            asyncio.create_task(housekeeper.run()) if housekeeper.scheduled else None
        )
        logger.info("service_started", service=settings.service_name, url=settings.public_url)
        try:
            yield
        finally:
            if on_shutdown is not None:
                await on_shutdown(app)
            for background in (task, app.state.housekeeping_task):
                if background is not None:
                    background.cancel()
                    with suppress(asyncio.CancelledError):
                        await background
            # An alarm's alert may still be on its way to the database: let it land first.
            await sequencer.guard.settle(within=5)
            await app.state.cache.close()
            await engine.dispose()
            forget_pool()
            shutdown_tracing(app)

    # The interactive docs (Swagger UI, ReDoc) only in development: they load their scripts
    # from a public CDN into a page of this origin, and are a console for whoever holds a
    # token. The OpenAPI document stays: integrators build their clients from it, it names
    # nothing secret, and every endpoint authorises for itself (docs/configuration.md).
    interactive = settings.environment == "development"
    app = FastAPI(
        title=title,
        description=description,
        version="0.1.0",
        lifespan=lifespan,
        docs_url="/docs" if interactive else None,
        redoc_url="/redoc" if interactive else None,
        swagger_ui_oauth2_redirect_url="/docs/oauth2-redirect" if interactive else None,
    )
    app.state.settings = settings
    app.state.audit_log = AuditLog(
        origin=settings.log_origin, private_key=settings.log_private_key()
    )
    install_problem_handlers(app)
    document_problems(app)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    if settings.metrics_port:  # latency per route; /metrics itself is on its own port
        app.add_middleware(RequestMetrics)
    install_tracing(app, settings)  # nothing unless an OTLP endpoint is configured

    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"], responses=problem_responses(503))
    async def readyz(request: Request) -> Response:
        """Readiness: the database and the cache answer."""
        checks = {"database": False, "cache": False}
        try:
            async with request.app.state.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
            checks["database"] = True
        except Exception:
            logger.warning("readiness_database_failed", exc_info=True)
        try:
            checks["cache"] = await request.app.state.cache.ping()
        except Exception:
            logger.warning("readiness_cache_failed", exc_info=True)
        if not checks["database"]:
            return problem_response(
                503, "not_ready", "the database does not answer", {"checks": checks}
            )
        # Without the cache the service is slower and forgets failed sign-ins sooner, but
        # it decides correctly (the database is the source of truth): taking every replica
        # out of the load balancer because Redis is away would stop the gates for nothing.
        status = "ready" if checks["cache"] else "degraded"
        # A log that stopped signing (its stored tree no longer extends what it signed) is an
        # alarm for people, not a reason to stop the gates: degraded, with the reason.
        log_status = request.app.state.sequencer.guard.status()
        if not log_status["signing"]:
            checks["audit_log"] = False
            return JSONResponse({"status": "degraded", "checks": checks, "audit_log": log_status})
        return JSONResponse({"status": status, "checks": checks})

    app.include_router(log_router)
    for router in routers:
        app.include_router(router)
    return app
