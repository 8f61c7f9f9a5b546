"""The release service's monitoring in its app: its rules over its access and audit logs."""

from zoneinfo import ZoneInfo

from fastapi import FastAPI

from services.release.access.models import AccessLogEntry
from services.release.alerts.service import announce_alert
from services.release.monitoring.rules import release_rules
from services.release.settings import ReleaseSettings
from shared.monitoring import runner
from shared.monitoring.sources import ACCESS_LOG, Source, audit_source


def start(app: FastAPI, settings: ReleaseSettings) -> None:
    """Give the app its rules and runner; the runner runs where the sequencer does, unless
    `run_monitoring` says otherwise."""
    run = settings.run_monitoring
    runner.install(
        app,
        rules=release_rules(ZoneInfo(settings.port_timezone)),
        sources=[Source(ACCESS_LOG, AccessLogEntry), audit_source()],
        settings=settings,
        run=settings.run_sequencer if run is None else run,
        # Each alert a rule raises is an `alert.raised` event for port security's webhooks.
        on_raised=announce_alert,
    )


async def stop(app: FastAPI) -> None:
    """Stop the app's runner."""
    await runner.uninstall(app)
