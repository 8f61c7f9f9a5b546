"""`party create|suspend|reinstate|revoke`: party administration from the command line."""

from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

import typer
from sqlmodel.ext.asyncio.session import AsyncSession

from services.identity.cli_support import cli_actor, run_in_transaction
from services.identity.parties import service
from services.identity.parties.models import PartyRole
from services.identity.settings import IdentitySettings
from shared.models import utcnow
from shared.problems import Problem

T = TypeVar("T")

cli = typer.Typer(help="Parties: register, suspend, reinstate, revoke.", no_args_is_help=True)


def run_command(work: Callable[[AsyncSession, IdentitySettings], Awaitable[T]]) -> T:
    """Run `work` in one transaction; a refusal is printed with its code and exits 1."""
    try:
        return run_in_transaction(work)
    except Problem as problem:
        typer.echo(f"refused ({problem.code}): {problem.detail}", err=True)
        raise typer.Exit(1) from None


PartyIdArg = Annotated[str, typer.Argument(help="The party id, e.g. EU.EORI.NL123456789.")]


@cli.command("create")
def create(
    party_id: PartyIdArg,
    name: Annotated[str, typer.Option(help="The organisation's name.")],
    role: Annotated[list[PartyRole], typer.Option(help="A role; repeat for more.")],
) -> None:
    """Register a party."""

    async def work(session: AsyncSession, _settings: IdentitySettings) -> str:
        party = await service.create_party(
            session, party_id=party_id, name=name, roles=role, actor=cli_actor(), now=utcnow()
        )
        return party.id

    typer.echo(f"party {run_command(work)} registered")


def _status_command(change: Callable[..., Awaitable[object]], party_id: str, done: str) -> None:
    async def work(session: AsyncSession, _settings: IdentitySettings) -> None:
        await change(session, party_id=party_id, actor=cli_actor(), now=utcnow())

    run_command(work)
    typer.echo(f"party {party_id} {done}")


@cli.command("suspend")
def suspend(party_id: PartyIdArg) -> None:
    """Suspend an active party."""
    _status_command(service.suspend_party, party_id, "suspended")


@cli.command("reinstate")
def reinstate(party_id: PartyIdArg) -> None:
    """Lift a party's suspension."""
    _status_command(service.reinstate_party, party_id, "reinstated")


@cli.command("revoke")
def revoke(
    party_id: PartyIdArg,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Revoke a party for good (this cannot be undone)."""
    if not yes:
        typer.confirm(f"Revoke {party_id}? Revocation is final", abort=True)
    _status_command(service.revoke_party, party_id, "revoked")
