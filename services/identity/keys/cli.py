"""`key add|rotate|retire`: party keys from the command line."""

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from sqlmodel.ext.asyncio.session import AsyncSession

from services.identity.cli_support import cli_actor
from services.identity.keys import service
from services.identity.parties.cli import run_command
from services.identity.settings import IdentitySettings
from shared.models import utcnow

cli = typer.Typer(help="Party keys: add, rotate, retire.", no_args_is_help=True)

PartyIdArg = Annotated[str, typer.Argument(help="The party id, e.g. EU.EORI.NL123456789.")]
MAX_JWK_FILE_BYTES = 16 * 1024


def _read_jwk(path: Path) -> dict[str, Any]:
    try:
        if path.stat().st_size > MAX_JWK_FILE_BYTES:
            raise ValueError("file too large for a JWK")
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        typer.echo(f"cannot read a JWK from {path}: {exc.__class__.__name__}", err=True)
        raise typer.Exit(2) from None
    if not isinstance(value, dict):
        typer.echo(f"{path} does not hold a JSON object", err=True)
        raise typer.Exit(2)
    return value


@cli.command("add")
def add(
    party_id: PartyIdArg,
    jwk_file: Annotated[
        Path | None, typer.Argument(help="The party's Ed25519 public JWK (a JSON file).")
    ] = None,
    custodial: Annotated[
        bool, typer.Option("--custodial", help="Generate a custodial key instead.")
    ] = False,
) -> None:
    """Register a party's own public key, or generate its custodial key."""
    if (jwk_file is None) == (not custodial):
        typer.echo("give either a JWK file or --custodial", err=True)
        raise typer.Exit(2)
    jwk = _read_jwk(jwk_file) if jwk_file is not None else None

    async def work(session: AsyncSession, settings: IdentitySettings) -> str:
        if jwk is None:
            key = await service.create_custodial_key(
                session, settings=settings, party_id=party_id, actor=cli_actor(), now=utcnow()
            )
        else:
            key = await service.register_key(
                session, party_id=party_id, jwk=jwk, actor=cli_actor(), now=utcnow()
            )
        return key.kid

    kind = "custodial key" if custodial else "key"
    typer.echo(f"{kind} {run_command(work)} added to {party_id}")


@cli.command("rotate")
def rotate(
    party_id: PartyIdArg,
    jwk: Annotated[
        Path | None,
        typer.Option("--jwk", help="The new own public JWK (JSON file); else a custodial key."),
    ] = None,
) -> None:
    """Add a new key and retire the party's active keys of the same kind."""
    new_jwk = _read_jwk(jwk) if jwk is not None else None

    async def work(session: AsyncSession, settings: IdentitySettings) -> tuple[str, list[str]]:
        new, retired = await service.rotate_keys(
            session,
            settings=settings,
            party_id=party_id,
            jwk=new_jwk,
            actor=cli_actor(),
            now=utcnow(),
        )
        return new.kid, [key.kid for key in retired]

    kid, retired = run_command(work)
    typer.echo(f"key {kid} added to {party_id}; retired: {', '.join(retired) or 'none'}")


@cli.command("retire")
def retire(
    party_id: PartyIdArg,
    kid: Annotated[
        str, typer.Argument(help="The key's kid (put -- before the arguments if it starts with -).")
    ],
) -> None:
    """Retire a key and suspend its credentials; its past signatures keep verifying."""

    async def work(session: AsyncSession, settings: IdentitySettings) -> None:
        await service.retire_key(
            session, settings=settings, party_id=party_id, kid=kid, actor=cli_actor(), now=utcnow()
        )

    run_command(work)
    typer.echo(f"key {kid} of {party_id} retired")
