"""The identity service's monitoring in its app: its rules over its audit log, and the
integrity screening's scheduled comparison run with each sweep (its `integrity.match_found`
events become alerts as the runner reads them)."""

from fastapi import FastAPI

from services.identity.monitoring.rules import identity_rules
from services.identity.screening import service as screening
from services.identity.settings import IdentitySettings
from shared.monitoring import runner
from shared.monitoring.sources import audit_source


def start(app: FastAPI, settings: IdentitySettings) -> None:
    """Give the app its rules and runner; the runner runs where the sequencer does, unless
    `run_monitoring` says otherwise."""
    run = settings.run_monitoring
    runner.install(
        app,
        rules=identity_rules(),
        sources=[audit_source()],
        settings=settings,
        run=settings.run_sequencer if run is None else run,
        sweep_jobs=[screening.sweep],
    )


async def stop(app: FastAPI) -> None:
    """Stop the app's runner."""
    await runner.uninstall(app)
