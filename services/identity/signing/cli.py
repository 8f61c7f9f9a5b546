"""`signing-key` commands: rotate the identity service's own signing key, list the keys."""

from datetime import datetime

import typer
from sqlmodel.ext.asyncio.session import AsyncSession

from services.identity.cli_support import cli_actor, run_in_transaction
from services.identity.settings import IdentitySettings
from services.identity.signing import service
from services.identity.signing.models import SigningKey
from shared.models import utcnow

cli = typer.Typer(help="The identity service's signing keys (tokens, credentials, status lists).")


@cli.command()
def rotate() -> None:
    """Add a new signing key: published now, signing after the propagation delay."""

    async def work(session: AsyncSession, settings: IdentitySettings) -> SigningKey:
        return await service.rotate(session, settings, utcnow(), actor=cli_actor())

    key = run_in_transaction(work)
    typer.echo(f"new signing key {key.kid}: published now, signs from {_when(key.activates_at)}")


@cli.command("list")
def list_keys() -> None:
    """Every signing key with when it signs and until when it is published."""

    async def work(session: AsyncSession, _settings: IdentitySettings) -> list[SigningKey]:
        return list(await service.list_keys(session))

    now = utcnow()
    for key in run_in_transaction(work):
        typer.echo(
            f"{key.kid}  {_state(key, now):<9}  signs from {_when(key.activates_at)}"
            f"  until {_when(key.retired_at)}  published until {_when(key.publish_until)}"
        )


def _state(key: SigningKey, now: datetime) -> str:
    if key.publish_until is not None and key.publish_until <= now:
        return "expired"
    if key.activates_at > now:
        return "next"
    if key.retired_at is not None and key.retired_at <= now:
        return "retired"
    return "signing"


def _when(moment: datetime | None) -> str:
    return moment.isoformat(timespec="seconds") if moment is not None else "-"
