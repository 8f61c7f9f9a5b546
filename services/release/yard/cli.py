"""`yard announce|list|correct|withdraw`: a terminal's yard entries from the command line.

For a terminal without its own system yet, and for operators fixing an entry: the command
runs against the release database, in one transaction, and is audited like the API (the
actor is `cli:<user>`).
"""

import asyncio
import getpass
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, TypeVar

import typer
from pydantic import BaseModel, ValidationError
from sqlmodel.ext.asyncio.session import AsyncSession

from services.release.releases.service import parse_container
from services.release.settings import ReleaseSettings
from services.release.yard import repository, service
from services.release.yard.models import YardEntry, YardState
from services.release.yard.schemas import YardEntryCreate, YardEntryUpdate
from shared.db import create_engine, session_factory, transaction
from shared.eori import InvalidEori, parse_eori
from shared.models import utcnow
from shared.problems import Problem

T = TypeVar("T")
B = TypeVar("B", bound=BaseModel)

cli = typer.Typer(
    help="Yard entries: which line may release a container at a terminal.",
    no_args_is_help=True,
)


def _actor() -> str:
    return f"cli:{getpass.getuser()}"


def run_command(work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run `work` in one transaction on the release database; a refusal exits 1."""
    settings = ReleaseSettings()

    async def main() -> T:
        engine = create_engine(settings.database_url, schema=settings.database_schema)
        try:
            async with transaction(session_factory(engine)) as session:
                return await work(session)
        finally:
            await engine.dispose()

    try:
        return asyncio.run(main())
    except Problem as problem:
        typer.echo(f"refused ({problem.code}): {problem.detail}", err=True)
        raise typer.Exit(1) from None


def _body(model: type[B], data: dict[str, object]) -> B:
    """The API's schema judges the command's input, so both refuse the same things."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        typer.echo(f"refused (invalid_request): {exc.errors()[0]['msg']}", err=True)
        raise typer.Exit(1) from None


def _terminal(text: str) -> str:
    try:
        return parse_eori(text)
    except InvalidEori as exc:
        typer.echo(f"refused (invalid_party_id): terminal: {exc}", err=True)
        raise typer.Exit(1) from None


def _line(entry: YardEntry) -> str:
    until = entry.valid_until.isoformat() if entry.valid_until else "-"
    gone = f"  withdrawn {entry.withdrawn_at.isoformat()}" if entry.withdrawn_at else ""
    return (
        f"{entry.id}  {entry.container}  {entry.terminal_id}  {entry.shipping_line_id}  "
        f"{entry.state}  until {until}{gone}"
    )


TerminalOpt = Annotated[str, typer.Option(help="The terminal's party id (EU.EORI.…).")]
UntilOpt = Annotated[
    datetime | None,
    typer.Option(
        help="When the release right ends (UTC).", formats=["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%d"]
    ),
]


@cli.command("announce")
def announce(
    container: Annotated[str, typer.Argument(help="The ISO 6346 container number.")],
    terminal: TerminalOpt,
    shipping_line: Annotated[str, typer.Option(help="The line holding the release right.")],
    state: Annotated[YardState, typer.Option(help="In the yard, or expected.")] = (
        YardState.in_yard
    ),
    valid_until: UntilOpt = None,
) -> None:
    """Announce a container in a terminal's yard and name the line that may release it."""
    body = _body(
        YardEntryCreate,
        {
            "container": container,
            "shipping_line": shipping_line,
            "state": state,
            "valid_until": _aware(valid_until),
        },
    )

    async def work(session: AsyncSession) -> YardEntry:
        return await service.announce(
            session, terminal_id=_terminal(terminal), body=body, actor=_actor(), now=utcnow()
        )

    typer.echo(f"announced {_line(run_command(work))}")


@cli.command("list")
def list_entries(
    terminal: TerminalOpt,
    container: Annotated[str | None, typer.Option(help="Only this container.")] = None,
    include_withdrawn: Annotated[bool, typer.Option(help="Withdrawn entries too.")] = False,
) -> None:
    """The entries of a terminal's yard, newest first."""
    terminal_id = _terminal(terminal)

    async def work(session: AsyncSession) -> list[YardEntry]:
        number = parse_container(container) if container is not None else None
        entries = await repository.of_terminal(
            session, terminal_id, container=number, include_withdrawn=include_withdrawn
        )
        return list(entries)

    for entry in run_command(work):
        typer.echo(_line(entry))


@cli.command("correct")
def correct(
    entry_id: Annotated[uuid.UUID, typer.Argument(help="The entry's id.")],
    terminal: TerminalOpt,
    shipping_line: Annotated[str | None, typer.Option(help="Another line.")] = None,
    state: Annotated[YardState | None, typer.Option(help="In the yard, or expected.")] = None,
    valid_until: UntilOpt = None,
) -> None:
    """Correct an entry (an open release the correction no longer allows is cancelled)."""
    changes: dict[str, object] = {}
    if shipping_line is not None:
        changes["shipping_line"] = shipping_line
    if state is not None:
        changes["state"] = state
    if valid_until is not None:
        changes["valid_until"] = _aware(valid_until)
    body = _body(YardEntryUpdate, changes)

    async def work(session: AsyncSession) -> YardEntry:
        entry = await service.load_own(session, _terminal(terminal), entry_id)
        return await service.correct(session, entry=entry, body=body, actor=_actor(), now=utcnow())

    typer.echo(f"corrected {_line(run_command(work))}")


@cli.command("withdraw")
def withdraw(
    entry_id: Annotated[uuid.UUID, typer.Argument(help="The entry's id.")],
    terminal: TerminalOpt,
) -> None:
    """Withdraw an entry (the line's open release of the container is cancelled)."""

    async def work(session: AsyncSession) -> YardEntry:
        entry = await service.load_own(session, _terminal(terminal), entry_id)
        return await service.withdraw(session, entry=entry, actor=_actor(), now=utcnow())

    typer.echo(f"withdrawn {_line(run_command(work))}")


def _aware(moment: datetime | None) -> datetime | None:
    # A date or time given without an offset is read as UTC, the port's clock.
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)
