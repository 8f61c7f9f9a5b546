"""Command line for people's second factor: `ketenpas person enrol-totp`."""

import os
import uuid
from pathlib import Path
from typing import Annotated

import typer
from sqlmodel.ext.asyncio.session import AsyncSession

from services.identity.cli_support import cli_actor, run_in_transaction
from services.identity.people.service import person_not_found
from services.identity.sessions import repository, service
from services.identity.settings import IdentitySettings
from shared.models import utcnow
from shared.problems import Problem

cli = typer.Typer(help="People's TOTP second factor.")


@cli.callback()
def group() -> None:
    """People's TOTP second factor."""
    # A callback keeps `enrol-totp` a sub-command while it is the only one.


@cli.command("enrol-totp")
def enrol_totp(
    person_id: Annotated[uuid.UUID, typer.Argument(help="The person's id.")],
    qr_file: Annotated[
        Path | None, typer.Option("--qr-file", help="Also write the QR code (SVG) here.")
    ] = None,
    reset: Annotated[
        bool, typer.Option("--reset", help="Replace a confirmed second factor.")
    ] = False,
) -> None:
    """Give a person a new TOTP secret and print its provisioning URI (pending until confirmed)."""

    async def work(session: AsyncSession, settings: IdentitySettings) -> service.Enrolment:
        person = await repository.get_person(session, person_id)
        if person is None:
            raise person_not_found()
        return await service.enrol_totp(
            session,
            settings=settings,
            person=person,
            actor=cli_actor(),
            may_replace_confirmed=reset,
            now=utcnow(),
        )

    try:
        enrolment = run_in_transaction(work)
    except Problem as exc:
        hint = " (use --reset to replace it)" if exc.code == "totp_already_confirmed" else ""
        typer.echo(f"refused: {exc.detail}{hint} [{exc.code}]", err=True)
        raise typer.Exit(1) from None
    if qr_file is not None:
        _write_private(qr_file, enrolment.qr_svg)
    if enrolment.replaced_confirmed:
        typer.echo("the confirmed second factor was replaced", err=True)
    typer.echo(enrolment.provisioning_uri)


def _write_private(path: Path, text: str) -> None:
    # The QR code holds the secret: readable by the owner only, from the first byte on.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        file.write(text)
