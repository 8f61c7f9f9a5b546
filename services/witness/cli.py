"""`ketenpas witness ...`: run the witness, print its cosigner key."""

import typer
import uvicorn

from services.witness.app import create_app
from services.witness.settings import WitnessSettings
from shared.logging import configure_logging

cli = typer.Typer(help="The witness an outside body runs: cosigns checkpoints that extend the log.")


@cli.command("serve")
def serve() -> None:
    """Run the witness (settings KETENPAS_WITNESS_*, default 127.0.0.1:8003)."""
    settings = WitnessSettings()
    configure_logging(settings.log_level)
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_config=None,
        proxy_headers=False,
    )


@cli.command("key")
def key() -> None:
    """Print the witness's cosigner key (what verifiers pass as --witness)."""
    typer.echo(WitnessSettings().signer().verifier().vkey)
