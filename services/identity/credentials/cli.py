"""`credential issue`: credentials from the command line."""

from typing import Annotated

import typer
from sqlmodel.ext.asyncio.session import AsyncSession

from services.identity.cli_support import cli_actor, run_in_transaction
from services.identity.credentials import service
from services.identity.parties.models import PartyRole
from services.identity.settings import IdentitySettings
from services.identity.signing.service import load_keyring
from shared.models import utcnow
from shared.problems import Problem

cli = typer.Typer(help="Credentials: issue them.", no_args_is_help=True)


@cli.callback()
def credentials() -> None:
    """Credentials: issue them (`ketenpas credential issue …`)."""


@cli.command("issue")
def issue(
    party_id: Annotated[str, typer.Argument(help="The party id, e.g. EU.EORI.NL123456789.")],
    kid: Annotated[str, typer.Option(help="The kid of an active key of the party.")],
    role: Annotated[
        list[PartyRole] | None,
        typer.Option(help="A role of the party; repeat for more. Default: all its roles."),
    ] = None,
) -> None:
    """Issue a credential and print it (the compact JWT) on standard output."""

    async def work(session: AsyncSession, settings: IdentitySettings) -> str:
        now = utcnow()
        ring = await load_keyring(session, settings, now)
        if ring.signing is None:
            raise Problem("no_signing_key", "no signing key is active", status=503)
        record = await service.issue_credential(
            session,
            party_id=party_id,
            kid=kid,
            roles=role or None,
            settings=settings,
            signing_key=ring.signing[1],
            actor=cli_actor(),
            now=now,
        )
        return record.credential.token

    try:
        token = run_in_transaction(work)
    except Problem as problem:
        typer.echo(f"refused ({problem.code}): {problem.detail}", err=True)
        raise typer.Exit(1) from None
    typer.echo(token)
