"""`person create|suspend|reinstate|record-document|screening-sweep`: people
administration from the command line."""

import uuid
from datetime import date, datetime
from pathlib import Path
from typing import Annotated

import typer
from sqlmodel.ext.asyncio.session import AsyncSession

from services.identity.cli_support import cli_actor
from services.identity.parties.cli import run_command
from services.identity.people import service
from services.identity.people.models import PersonRole, SuspensionReason
from services.identity.screening import service as screening
from services.identity.screening.hashing import ScreeningKeys
from services.identity.settings import IdentitySettings
from shared.models import utcnow

cli = typer.Typer(help="People: register, suspend, reinstate.", no_args_is_help=True)

PersonIdArg = Annotated[uuid.UUID, typer.Argument(help="The person's id.")]
DocumentFile = Annotated[
    Path | None,
    typer.Option(
        help="Read the identity-document number from this file instead of a prompt "
        "(never an argument: it would stay in the shell's history)."
    ),
]
DateOfBirth = Annotated[
    datetime | None,
    typer.Option(formats=["%Y-%m-%d"], help="Date of birth (YYYY-MM-DD), with the document."),
]


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


def _read_document_number(document_file: Path | None) -> str:
    if document_file is None:
        number: str = typer.prompt(
            "Identity-document number", hide_input=True, confirmation_prompt=True
        )
        return number
    try:
        text = document_file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        typer.echo(f"cannot read the document file: {exc.__class__.__name__}", err=True)
        raise typer.Exit(2) from None
    return text.strip()


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
    date_of_birth: DateOfBirth = None,
    document_file: DocumentFile = None,
) -> None:
    """Register a person of an active party; a driver, dispatcher or operator with his
    identity document (asked for, or read from --document-file) and --date-of-birth."""
    password = _read_password(password_file)
    screened: date | None = screened_until.date() if screened_until else None
    born: date | None = date_of_birth.date() if date_of_birth else None
    number = (
        _read_document_number(document_file)
        if born is not None or document_file is not None
        else None
    )

    async def work(session: AsyncSession, settings: IdentitySettings) -> uuid.UUID:
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
            document_number=number,
            date_of_birth=born,
            screening_keys=ScreeningKeys.from_settings(settings),
        )
        return person.id

    typer.echo(f"person {run_command(work)} registered as {username!r}")


@cli.command("record-document")
def record_document(
    person_id: PersonIdArg,
    date_of_birth: Annotated[
        datetime,
        typer.Option(formats=["%Y-%m-%d"], help="Date of birth (YYYY-MM-DD)."),
    ],
    document_file: DocumentFile = None,
) -> None:
    """Record one more identity document of a person, hashed and screened."""
    number = _read_document_number(document_file)

    async def work(session: AsyncSession, settings: IdentitySettings) -> None:
        await service.record_identity_document(
            session,
            person_id=person_id,
            document_number=number,
            date_of_birth=date_of_birth.date(),
            screening_keys=ScreeningKeys.from_settings(settings),
            actor=cli_actor(),
            now=utcnow(),
        )

    run_command(work)
    typer.echo(f"person {person_id}: identity document recorded")


@cli.command("suspend")
def suspend(
    person_id: PersonIdArg,
    reason: Annotated[
        SuspensionReason,
        typer.Option(help="Why; `integrity` is screened across employers."),
    ] = SuspensionReason.other,
) -> None:
    """Suspend a person."""

    async def work(session: AsyncSession, _settings: IdentitySettings) -> None:
        await service.suspend_person(
            session, person_id=person_id, actor=cli_actor(), now=utcnow(), reason=reason
        )

    run_command(work)
    typer.echo(f"person {person_id} suspended ({reason})")


@cli.command("screening-sweep")
def screening_sweep() -> None:
    """Run the integrity-screening job once: report every active person holding the
    document of a person suspended for integrity (each pair once)."""

    async def work(session: AsyncSession, _settings: IdentitySettings) -> int:
        return await screening.sweep(session=session, now=utcnow())

    typer.echo(f"integrity screening: {run_command(work)} people reported")


@cli.command("reinstate")
def reinstate(person_id: PersonIdArg) -> None:
    """Lift a person's suspension."""

    async def work(session: AsyncSession, _settings: IdentitySettings) -> None:
        await service.reinstate_person(
            session, person_id=person_id, actor=cli_actor(), now=utcnow()
        )

    run_command(work)
    typer.echo(f"person {person_id} reinstated")
