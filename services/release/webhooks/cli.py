"""`ketenpas webhooks run`: the webhook dispatcher alone, in a process that answers no request.

The dispatcher's fan-out and sends cost CPU on the event loop of the process that runs them
(docs/benchmarks.md measured the gate's latency rising with 50 subscribers when the release
service's own processes ran it). A deployment whose gate must keep its latency runs the
release service with `RUN_WEBHOOKS=false` and this command beside it (one or more: one
leads at a time, the others stand by to take over, and claims are leased besides, so
several never send one delivery at once). It reads the release service's
settings (`KETENPAS_RELEASE_…`), checks each subscribing party with the identity service as
the service does, and runs until interrupted.
"""

import asyncio
import signal

import httpx
import structlog
import typer

from services.release.identity_directory import IdentityDirectory
from services.release.settings import ReleaseSettings
from services.release.webhooks.dispatcher import Dispatcher
from services.release.webhooks.settings import DispatcherSettings
from shared.db import create_engine, read_only, session_factory
from shared.logging import configure_logging
from shared.observability.exposition import serve_metrics
from shared.verifier_cache import VerifierCache

logger = structlog.get_logger(__name__)

cli = typer.Typer(help="Webhooks of the release service (docs/webhooks.md).", no_args_is_help=True)


async def serve(
    settings: ReleaseSettings | DispatcherSettings,
    *,
    identity_transport: httpx.AsyncBaseTransport | None = None,
) -> None:
    """Run the dispatcher until cancelled (`identity_transport`: tests reach the identity
    service in-process)."""
    engine = create_engine(settings.database_url, schema=settings.database_schema)
    client = httpx.AsyncClient(
        base_url=settings.identity_url,
        timeout=settings.identity_timeout_seconds,
        transport=identity_transport,
    )
    directory = IdentityDirectory(
        client,
        issuer=settings.identity_issuer,
        verifier_cache=VerifierCache(),
        refresh_seconds=settings.identity_refresh_seconds,
        max_staleness_seconds=settings.identity_max_staleness_seconds,
        recheck_seconds=settings.identity_recheck_seconds,
        max_entries=settings.identity_cache_entries,
    )
    dispatcher = Dispatcher.of(
        session_factory(engine), settings, directory, session_factory(read_only(engine))
    )
    try:
        if dispatcher is None:
            raise typer.BadParameter("no WEBHOOK_SECRET_KEY: this deployment sends no webhooks")
        logger.info("webhook_dispatcher_started")
        try:
            await dispatcher.run()
        finally:
            await dispatcher.close()
    finally:
        await directory.close()
        await client.aclose()
        await engine.dispose()


async def serve_until_stopped(
    settings: ReleaseSettings | DispatcherSettings,
    *,
    identity_transport: httpx.AsyncBaseTransport | None = None,
) -> None:
    """`serve` until SIGTERM (a container stopping) or SIGINT, then stop as a cancellation
    does: sends in flight are finished and recorded, and the lead is handed over at once
    (not left to run out)."""
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None
    for stop_signal in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(stop_signal, task.cancel)
    try:
        await serve(settings, identity_transport=identity_transport)
    except asyncio.CancelledError:
        logger.info("webhook_dispatcher_stopped")
    finally:
        for stop_signal in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(stop_signal)


@cli.command("run")
def run() -> None:
    """Fan out and deliver webhook events until stopped (SIGTERM, or Ctrl-C); `/metrics` on
    METRICS_PORT when set (the dispatcher's own series, `ketenpas_webhook_*`)."""
    # The release service's settings it needs, and none of its keys (webhooks/settings.py).
    settings = DispatcherSettings()
    configure_logging(settings.log_level)
    metrics_server = serve_metrics(settings)
    try:
        asyncio.run(serve_until_stopped(settings))
    finally:
        if metrics_server is not None:
            metrics_server.close()
