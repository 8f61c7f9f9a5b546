"""`ketenpas reconcile`: compare the release tables with the signed audit log, now.

Runs against the configured release database (`KETENPAS_RELEASE_DATABASE_URL`), records the
run like the scheduled one (`reconcile.completed`, and a critical alert for a new set of
differences, the actor `cli:<user>`), prints every difference, and exits 0 when the tables
agree with the log, 1 when they differ, 2 when it could not reconcile.
"""

import asyncio
import getpass
import re
from typing import Annotated

import typer
from sqlalchemy.exc import SQLAlchemyError

from services.release.reconcile import service
from services.release.settings import ReleaseSettings
from shared.audit.service import AuditLog
from shared.db import create_engine, read_only, session_factory

AGREE, DIFFER, FAILED = 0, 1, 2


async def _run(
    settings: ReleaseSettings, page: int, since_month: str | None
) -> service.Outcome | None:
    engine = create_engine(settings.database_url, schema=settings.database_schema)
    try:
        log = AuditLog(origin=settings.log_origin, private_key=settings.log_private_key())
        return await service.run(
            session_factory(read_only(engine)),
            session_factory(engine),
            log=log,
            actor=f"cli:{getpass.getuser()}",
            page=page,
            access_log=service.AccessLogCheck(settings.access_log_retention_months, since_month),
        )
    finally:
        await engine.dispose()


def reconcile(
    page_size: Annotated[
        int, typer.Option(min=100, max=100_000, help="Events read per page.")
    ] = service.PAGE,
    access_since: Annotated[
        str | None,
        typer.Option(
            help="Check the access log from this month (YYYY-MM) on; default: every month.",
            metavar="YYYY-MM",
        ),
    ] = None,
) -> None:
    """Replay the release service's signed audit log and compare it with the holds, release
    statuses and gate-outs in its tables, and the access log with its seals; any difference
    exits 1 and is a critical alert."""
    if access_since is not None and not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", access_since):
        typer.echo("--access-since takes a month as YYYY-MM", err=True)
        raise typer.Exit(FAILED)
    try:
        outcome = asyncio.run(_run(ReleaseSettings(), page_size, access_since))
    except (OSError, SQLAlchemyError) as exc:
        typer.echo(f"reconcile failed: {exc}", err=True)
        raise typer.Exit(FAILED) from exc
    if outcome is None:
        typer.echo("reconcile skipped: another process is reconciling this log now", err=True)
        raise typer.Exit(FAILED)
    report = outcome.report
    typer.echo(
        f"{report.signed_size} signed events replayed, {report.pending_events} pending "
        f"(touching {len(report.pending_releases)} releases), {report.releases} releases"
    )
    if not report.differences:
        typer.echo("OK: the tables agree with the audit log")
        return
    for difference in report.differences:
        typer.echo(f"DIFFERS {difference.describe()}")
    alerted = (
        f"critical alert {outcome.alert_id} raised"
        if outcome.alert_id
        else "already alerted (the same differences as the last run)"
    )
    typer.echo(f"{len(report.differences)} difference(s), digest {report.digest}; {alerted}")
    raise typer.Exit(DIFFER)
