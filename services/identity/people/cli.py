"""`person create|suspend|reinstate`: people administration from the command line."""

import uuid
from datetime import date, datetime
from pathlib import Path
from typing import Annotated

import typer
from sqlmodel.ext.asyncio.session import AsyncSession

from services.identity.cli_support import cli_actor
from services.identity.parties.cli import run_command
from services.identity.people import service
from services.identity.people.models import PersonRole
from services.identity.settings import IdentitySettings
from shared.models import utcnow

cli = typer.Typer(help="People: register, suspend, reinstate.", no_args_is_help=True)

PersonIdArg = Annotated[uuid.UUID, typer.Argument(help="The person's id.")]


def _read_password(password_file: Path | None) -> str:
    if password_file is None:
        # Typed twice, never shown.
        password: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
        return password
    try:
        text = password_file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        typer.echo(f"cannot read the password file: {exc.__class__.__name__}", err=True)
        raise typer.Exit(2) from None
    # One trailing line break is how files end, not part of the password.
    return text.removesuffix("\n").removesuffix("\r")


@cli.command("create")
def create(
    party: Annotated[str, typer.Option(help="The person's party id.")],
    role: Annotated[PersonRole, typer.Option(help="The person's role.")],
    name: Annotated[str, typer.Option(help="The person's full name.")],
    username: Annotated[str, typer.Option(help="Sign-in name (lower case).")],
    password_file: Annotated[
        Path | None,
        typer.Option(help="Read the password from this file instead of a prompt."),
    ] = None,
    screened_until: Annotated[
        datetime | None,
        typer.Option(formats=["%Y-%m-%d"], help="End of the screening (YYYY-MM-DD)."),
    ] = None,
) -> None:
    """Register a person of an active party."""
    password = _read_password(password_file)
    screened: date | None = screened_until.date() if screened_until else None

    async def work(session: AsyncSession, _settings: IdentitySettings) -> uuid.UUID:
        person = await service.create_person(
            session,
            party_id=party,
            role=role,
            name=name,
            username=username,
            password=password,
            screened_until=screened,
            actor=cli_actor(),
            now=utcnow(),
        )
        return person.id

    typer.echo(f"person {run_command(work)} registered as {username!r}")


@cli.command("suspend")
def suspend(person_id: PersonIdArg) -> None:
    """Suspend a person."""

    async def work(session: AsyncSession, _settings: IdentitySettings) -> None:
        await service.suspend_person(session, person_id=person_id, actor=cli_actor(), now=utcnow())

    run_command(work)
    typer.echo(f"person {person_id} suspended")


@cli.command("reinstate")
def reinstate(person_id: PersonIdArg) -> None:
    """Lift a person's suspension."""

    async def work(session: AsyncSession, _settings: IdentitySettings) -> None:
        await service.reinstate_person(
            session, person_id=person_id, actor=cli_actor(), now=utcnow()
        )

    run_command(work)
    typer.echo(f"person {person_id} reinstated")
