"""`ketenpas access verify|seal|keep`: check the access log against its seals; seal now."""

import asyncio
import re
from datetime import timedelta
from typing import Annotated

import typer

from services.release.access.keeper import AccessLogKeeper
from services.release.access.seals import seal_all
from services.release.access.verify import AccessLogProblem, verify_access_log
from services.release.settings import ReleaseSettings
from shared.db import create_engine, read_only, session_factory, transaction

_MONTH = re.compile(r"\d{4}-(0[1-9]|1[0-2])")
cli = typer.Typer(help="The access log: verify it against its seals in the audit log.")

DatabaseUrl = Annotated[
    str | None, typer.Option(help="The release database (default: the service's setting).")
]
DatabaseSchema = Annotated[str | None, typer.Option(help="PostgreSQL schema.")]


def _settings(database_url: str | None, database_schema: str | None) -> ReleaseSettings:
    settings = ReleaseSettings()
    if database_url is not None:
        settings = settings.model_copy(
            update={"database_url": database_url, "database_schema": database_schema}
        )
    return settings


async def _verify(settings: ReleaseSettings, since_month: str | None) -> list[AccessLogProblem]:
    engine = create_engine(settings.database_url, schema=settings.database_schema)
    try:
        async with transaction(session_factory(read_only(engine))) as session:
            return await verify_access_log(
                session,
                late_margin=timedelta(seconds=settings.access_log_seal_late_seconds),
                retention_months=settings.access_log_retention_months,
                since_month=since_month,
            )
    finally:
        await engine.dispose()


@cli.command("verify")
def verify(
    database_url: DatabaseUrl = None,
    database_schema: DatabaseSchema = None,
    since_month: Annotated[
        str | None, typer.Option(help="Check only this month (YYYY-MM) and later.")
    ] = None,
) -> None:
    """Recompute every seal from the rows; name the first range that differs, exit 1."""
    if since_month is not None and not _MONTH.fullmatch(since_month):
        raise typer.BadParameter("give a month as YYYY-MM", param_hint="--since-month")
    problems = asyncio.run(_verify(_settings(database_url, database_schema), since_month))
    if problems:
        typer.echo(f"FAILED (first: {problems[0]})", err=True)
        for problem in problems:
            typer.echo(str(problem), err=True)
        raise typer.Exit(1)
    typer.echo("OK: every seal matches its rows")


@cli.command("seal")
def seal(database_url: DatabaseUrl = None, database_schema: DatabaseSchema = None) -> None:
    """Seal every committed, unsealed row now (the service does it every minute)."""
    settings = _settings(database_url, database_schema)

    async def run() -> int:
        engine = create_engine(settings.database_url, schema=settings.database_schema)
        try:
            return sum(seal.count for seal in await seal_all(session_factory(engine)))
        finally:
            await engine.dispose()

    typer.echo(f"{asyncio.run(run())} rows sealed")


@cli.command("keep")
def keep(database_url: DatabaseUrl = None, database_schema: DatabaseSchema = None) -> None:
    """Seal, make the next months' partitions and purge past retention, once."""
    settings = _settings(database_url, database_schema)

    async def run() -> str:
        engine = create_engine(settings.database_url, schema=settings.database_schema)
        try:
            done = await AccessLogKeeper(session_factory(engine), settings).run_once()
        finally:
            await engine.dispose()
        purged = f", purged up to {done.purged.up_to_month}" if done.purged else ""
        return f"{done.sealed} rows sealed, partitions made: {list(done.made)}{purged}"

    typer.echo(asyncio.run(run()))
