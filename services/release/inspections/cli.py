"""`inspections verify|key`: check a period's draws from the outside; show the public key."""

import asyncio
from datetime import datetime
from typing import Annotated

import typer

from services.release.inspections.keys import DrawingKey, b64
from services.release.inspections.verifier import DrawCheckFailed, verify_draws
from services.release.settings import ReleaseSettings

cli = typer.Typer(help="Verifiable inspections: check the draws of a period.")


def _moment(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise typer.BadParameter("give a time with its offset, e.g. 2026-12-06T00:00:00Z")
    return moment


@cli.command("key")
def key() -> None:
    """Print this installation's inspection VRF public key (base64url), for `verify --key`."""
    drawing = DrawingKey(ReleaseSettings().inspection_vrf_seed())
    typer.echo(b64(drawing.public_key))


@cli.command("verify")
def verify(
    url: Annotated[str, typer.Argument(help="The release service, e.g. http://127.0.0.1:8002")],
    key: Annotated[
        list[str], typer.Option(help="A trusted VRF public key (base64url); repeat for each.")
    ],
    log_key: Annotated[str, typer.Option(help="The audit log's verifier key.")],
    since: Annotated[str, typer.Option(help="Start of the period (ISO 8601 with offset).")],
    until: Annotated[str, typer.Option(help="End of the period, exclusive.")],
    token: Annotated[
        str, typer.Option(envvar="KETENPAS_TOKEN", help="A port-security access token.")
    ],
) -> None:
    """Check every draw, its checkpoint in the log, one draw per gate decision and one per
    visit slot."""
    try:
        report = asyncio.run(
            verify_draws(
                url,
                trusted_keys=key,
                log_key=log_key,
                token=token,
                since=_moment(since),
                until=_moment(until),
            )
        )
    except DrawCheckFailed as failure:
        where = f" (first bad draw: {failure.draw})" if failure.draw else ""
        typer.echo(f"FAILED{where}: {failure.reason}", err=True)
        raise typer.Exit(1) from failure
    typer.echo(
        f"OK: {report.draws} draws ({report.selected} selected), {report.decisions} gate "
        f"decisions, {report.slots} visit slots ({report.visits} visits), "
        f"{len(report.checkpoints)} checkpoints found in a log of {report.log_size}"
    )
