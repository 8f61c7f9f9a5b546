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
from contextlib import suppress

import httpx
import structlog
import typer

from services.release.identity_directory import IdentityDirectory
from services.release.settings import ReleaseSettings
from services.release.webhooks.dispatcher import Dispatcher
from shared.db import create_engine, read_only, session_factory
from shared.verifier_cache import VerifierCache

logger = structlog.get_logger(__name__)

cli = typer.Typer(help="Webhooks of the release service (docs/webhooks.md).", no_args_is_help=True)


async def serve(
    settings: ReleaseSettings, *, identity_transport: httpx.AsyncBaseTransport | None = None
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


@cli.command("run")
def run() -> None:
    """Fan out and deliver webhook events until interrupted (Ctrl-C)."""
    with suppress(KeyboardInterrupt):
        asyncio.run(serve(ReleaseSettings()))
