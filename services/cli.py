"""The `ketenpas` command line: serve, migrate, seed a demo, verify audit logs, housekeeping."""

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
import uvicorn
from sqlmodel.ext.asyncio.session import AsyncSession

from services.demo_walk import walk
from services.identity import app as identity_app
from services.identity import demo
from services.identity.credentials.cli import cli as credential_cli
from services.identity.demo import write_credentials
from services.identity.keys.cli import cli as key_cli
from services.identity.parties.cli import cli as party_cli
from services.identity.people.cli import cli as person_cli
from services.identity.sessions.cli import enrol_totp
from services.identity.settings import IdentitySettings
from services.identity.signing.cli import cli as signing_key_cli
from services.registry import SERVICES, ServiceSpec, selected
from services.release import app as release_app
from services.release.access.cli import cli as access_cli
from services.release.evidence.cli import cli as evidence_cli
from services.release.inspections.cli import cli as inspections_cli
from services.release.reconcile.cli import reconcile as reconcile_command
from services.release.webhooks.cli import cli as webhooks_cli
from services.release.yard import demo as yard_demo
from services.release.yard.cli import cli as yard_cli
from services.web.app import create_app as create_web_app
from services.web.settings import WebSettings
from services.witness.cli import cli as witness_cli
from services.witness.settings import WitnessSettings
from shared.audit import repository as audit_repo
from shared.audit.events import append
from shared.audit.guard import LogGuard
from shared.audit.sequencer import drain
from shared.audit.service import AuditLog
from shared.audit.verify import VerificationFailed, verify_log
from shared.db import create_engine, session_factory, transaction
from shared.housekeeping import Chore, Housekeeper
from shared.logging import configure_logging
from shared.migrate import upgrade
from shared.models import utcnow
from shared.observability.exposition import serve_metrics
from shared.settings import VAR_DIR, ServiceSettings
from shared.tlog.cosignature import parse_cosigner_key
from shared.web import freeze_startup_heap

app = typer.Typer(help="Ketenpas: container release through a chain of signed handovers.")
db_app = typer.Typer(help="Database schema.")
demo_app = typer.Typer(help="The demo port for a laptop.")
log_app = typer.Typer(help="The tamper-evident audit logs.")
housekeeping_app = typer.Typer(help="Deleting what can no longer matter (also on a schedule).")
app.add_typer(db_app, name="db")
app.add_typer(demo_app, name="demo")
app.add_typer(log_app, name="log")
app.add_typer(housekeeping_app, name="housekeeping")
# Administration of the identity service (needs its database; every change is audited).
person_cli.command("enrol-totp")(enrol_totp)
app.add_typer(party_cli, name="party")
app.add_typer(person_cli, name="person")
app.add_typer(key_cli, name="key")
app.add_typer(credential_cli, name="credential")
app.add_typer(signing_key_cli, name="signing-key")
# The terminal's yard entries (needs the release database; every change is audited).
app.add_typer(yard_cli, name="yard")
app.add_typer(inspections_cli, name="inspections")
app.add_typer(evidence_cli, name="evidence")
app.add_typer(access_cli, name="access")
# Replaying the audit log against the release tables (also on a schedule).
app.command("reconcile")(reconcile_command)
app.add_typer(witness_cli, name="witness")
# The webhook dispatcher alone, apart from the processes that answer the gate.
app.add_typer(webhooks_cli, name="webhooks")


class Target(StrEnum):
    """Which service a command is for."""

    all = "all"
    identity = "identity"
    release = "release"


class One(StrEnum):
    """One service."""

    identity = "identity"
    release = "release"


class Served(StrEnum):
    """What `serve` runs: a service, the web front end, or all three."""

    all = "all"
    identity = "identity"
    release = "release"
    web = "web"


def _serve_web() -> None:
    settings = WebSettings()
    configure_logging(settings.log_level)
    uvicorn.run(
        create_web_app(settings),
        host=settings.host,
        port=settings.port,
        log_config=None,
        proxy_headers=False,
    )


@dataclass(frozen=True)
class DemoWitness:
    """The witness `serve all` runs beside a development port, and the environment that
    points the services at it (unchanged, without a url, when it does not apply)."""

    url: str | None
    environment: dict[str, str]


def _demo_witness(specs: list[ServiceSpec]) -> DemoWitness:
    """A development port gets a witness of its own (the demo key, `var/witness.sqlite3`),
    so the demo shows cosigned checkpoints; unless witnesses are configured already, or
    the services do not run in development (a real witness is run by someone else)."""
    environment = dict(os.environ)
    if any(spec.settings().environment != "development" for spec in specs):
        return DemoWitness(None, environment)
    if any(f"KETENPAS_{spec.name.upper()}_AUDIT_WITNESSES" in environment for spec in specs):
        return DemoWitness(None, environment)
    settings = WitnessSettings()
    url = f"http://{settings.host}:{settings.port}"
    for spec in specs:
        environment[f"KETENPAS_{spec.name.upper()}_AUDIT_WITNESSES"] = (
            f"{url},{settings.signer().verifier().vkey}"
        )
    return DemoWitness(url, environment)


def _allow_local_receivers(environment: dict[str, str], specs: list[ServiceSpec]) -> None:
    """A development port delivers webhooks to receivers on this machine too (the demo
    walk's, a developer's), unless configured otherwise; production refuses the setting."""
    if all(spec.settings().environment == "development" for spec in specs):
        environment.setdefault("KETENPAS_RELEASE_WEBHOOK_ALLOW_PRIVATE", "true")


def _keep_guard_state(environment: dict[str, str], specs: list[ServiceSpec]) -> None:
    """A development port keeps each log's guard state under `var/` (beside its database),
    so a restarted demo still refuses to sign a rolled-back log, unless configured
    otherwise; production names its own file, on a volume the DBA cannot write."""
    for spec in specs:
        if spec.settings().environment == "development":
            environment.setdefault(
                f"KETENPAS_{spec.name.upper()}_LOG_GUARD_STATE_FILE",
                str(VAR_DIR / f"{spec.name}-log-guard.json"),
            )


@app.command()
def serve(target: Annotated[Served, typer.Argument()] = Served.all) -> None:
    """Run one service or the web front end, or all three (each in its own process)."""
    if target == Served.web:
        _serve_web()
        return
    specs = selected(target)
    if len(specs) == 1:
        settings = specs[0].settings()
        configure_logging(settings.log_level)
        # /metrics on its own port, served by this process (with workers: their sum).
        serve_metrics(settings)
        if settings.workers > 1:
            # Worker processes build their own app (services/asgi.py) from the environment.
            uvicorn.run(
                f"services.asgi:{specs[0].name}",
                factory=True,
                workers=settings.workers,
                # A worker imports the whole service before it answers the supervisor's first
                # ping: 4.7 s on a busy 2-core machine, and uvicorn's default of 5 s killed and
                # restarted workers over and over for up to a minute (issue 16, H2's test).
                timeout_worker_healthcheck=30,
                host=settings.host,
                port=settings.port,
                log_config=None,
                # Forwarded addresses are judged by the app against `trusted_proxies` (both
                # X-Forwarded-For and RFC 7239 Forwarded, the same in tests and behind any
                # server); uvicorn must not rewrite the peer from a header before that.
                proxy_headers=False,
            )
            return
        app = specs[0].create_app(settings)
        freeze_startup_heap()
        uvicorn.run(
            app,
            host=settings.host,
            port=settings.port,
            log_config=None,
            proxy_headers=False,  # see above: the app judges forwarded addresses
        )
        return
    names = [spec.name for spec in specs] + ["web"]
    witness = _demo_witness(specs)
    _allow_local_receivers(witness.environment, specs)
    _keep_guard_state(witness.environment, specs)
    children = [
        subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "services.cli", "serve", name], env=witness.environment
        )
        for name in names
    ]
    if witness.url:
        children.append(
            subprocess.Popen([sys.executable, "-m", "services.cli", "witness", "serve"])
        )
    typer.echo(f"     web: {WebSettings().public_url}  (open this first)")
    for spec in specs:
        settings = spec.settings()
        docs = "/docs" if settings.environment == "development" else "/openapi.json"
        typer.echo(f"{spec.name:>8}: {settings.public_url}  (OpenAPI: {settings.public_url}{docs})")
    if witness.url:
        typer.echo(f" witness: {witness.url}  (demo; cosigns both logs' checkpoints)")
    try:
        # Ctrl-C ends the wait; either way both children are stopped below.
        with suppress(KeyboardInterrupt):
            while all(child.poll() is None for child in children):
                with suppress(subprocess.TimeoutExpired):
                    children[0].wait(timeout=0.5)
    finally:
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGINT)
        for child in children:
            child.wait(timeout=15)
    failed = [child.returncode for child in children if child.returncode not in (0, -2, 130)]
    raise typer.Exit(1 if failed else 0)


@db_app.command("upgrade")
def db_upgrade(target: Annotated[Target, typer.Argument()] = Target.all) -> None:
    """Apply the migrations of one service, or both (reading only DATABASE_URL and
    DATABASE_SCHEMA: a migration job is given no key)."""
    for spec in selected(target):
        asyncio.run(upgrade(spec.database(), spec.migrations))
        typer.echo(f"{spec.name}: database at the newest revision")


DEMO_CREDENTIALS = Path("var/demo/credentials.json")


@demo_app.command("seed")
def demo_seed(
    credentials_file: Annotated[
        Path, typer.Option(help="Where to write the demo credentials.")
    ] = DEMO_CREDENTIALS,
) -> None:
    """Seed the demo port into empty databases (development mode only)."""
    specs = selected("all")
    settings = {spec.name: spec.settings() for spec in specs}
    if any(s.environment != "development" for s in settings.values()):
        typer.echo("demo seed refused: development mode only", err=True)
        raise typer.Exit(2)
    document = asyncio.run(_seed_identity(IdentitySettings()))
    if document is None:
        typer.echo("identity: not empty, left as it is")
    else:
        document["release_url"] = settings["release"].public_url
        document["web_url"] = WebSettings().public_url
        write_credentials(credentials_file, document)
        typer.echo("identity: demo port seeded; logins (password, then TOTP secret):")
        for person in document["people"]:
            typer.echo(
                f"  {person['username']:<22} {person['role']:<10} "
                f"{person['password']}  {person['totp_secret']}"
            )
        typer.echo(f"  everything, with party keys and credentials: {credentials_file}")
    seeded = asyncio.run(_seed_log(SERVICES["release"], _seed_yard))
    typer.echo(f"release: {'demo seeded' if seeded else 'not empty, left as it is'}")
    if seeded:
        terminal, line = _demo_party("ect"), _demo_party("noordzee")
        typer.echo(f"  yard of {terminal}, release right with {line}:")
        for container, state in yard_demo.DEMO_YARD:
            typer.echo(f"  {container}  {state}")


@demo_app.command("walk")
def demo_walk(
    credentials_file: Annotated[
        Path, typer.Option(help="The demo credentials written by `demo seed`.")
    ] = DEMO_CREDENTIALS,
) -> None:
    """Walk a container through the chain to the gate on the running demo port."""
    try:
        walk(credentials_file, typer.echo)
    except (OSError, RuntimeError, httpx.HTTPError) as exc:
        typer.echo(f"demo walk stopped: {exc}", err=True)
        raise typer.Exit(1) from exc


async def _seed_identity(settings: IdentitySettings) -> dict[str, Any] | None:
    engine = create_engine(settings.database_url, schema=settings.database_schema)
    sessions = session_factory(engine)
    try:
        async with transaction(sessions) as session:
            if await demo.is_seeded(session):
                return None
            document = await demo.seed(session, settings, utcnow())
        log = AuditLog(origin=settings.log_origin, private_key=settings.log_private_key())
        await drain(sessions, signer=log.signer, origin=log.origin)
        return document
    finally:
        await engine.dispose()


def _demo_party(key: str) -> str:
    return demo.party_id(next(party for party in demo.PORT if party.key == key))


async def _seed_yard(session: AsyncSession) -> None:
    """The demo terminal announces the demo containers for the demo shipping line."""
    await yard_demo.seed(
        session,
        terminal_id=_demo_party("ect"),
        shipping_line_id=_demo_party("noordzee"),
        now=utcnow(),
    )


async def _seed_log(
    spec: ServiceSpec, seed: Callable[[AsyncSession], Awaitable[None]] | None = None
) -> bool:
    settings = spec.settings()
    engine = create_engine(settings.database_url, schema=settings.database_schema)
    sessions = session_factory(engine)
    try:
        async with transaction(sessions) as session:
            if await audit_repo.count_events(session):
                return False
            await append(session, "demo.seeded", {"service": spec.name})
            if seed is not None:
                await seed(session)
        log = AuditLog(origin=settings.log_origin, private_key=settings.log_private_key())
        await drain(sessions, signer=log.signer, origin=log.origin)
        return True
    finally:
        await engine.dispose()


@log_app.command("key")
def log_key(service: One) -> None:
    """Print the verifier key of a service's audit-log checkpoints."""
    settings = selected(service)[0].settings()
    typer.echo(
        AuditLog(origin=settings.log_origin, private_key=settings.log_private_key()).verifier_key
    )


@log_app.command("sequence")
def log_sequence(service: One) -> None:
    """Integrate every pending event now and sign a checkpoint."""
    settings = selected(service)[0].settings()

    state = settings.log_guard_state_file
    guard = LogGuard(settings.log_origin, Path(state)) if state else None

    async def run() -> int:
        engine = create_engine(settings.database_url, schema=settings.database_schema)
        try:
            log = AuditLog(origin=settings.log_origin, private_key=settings.log_private_key())
            return await drain(
                session_factory(engine), signer=log.signer, origin=log.origin, guard=guard
            )
        finally:
            await engine.dispose()

    size = asyncio.run(run())
    if guard is not None and guard.alarm is not None:
        typer.echo(f"{service}: REFUSED to sign: {guard.alarm}", err=True)
        raise typer.Exit(1)
    typer.echo(f"{service}: {size} entries integrated")


@log_app.command("verify")
def log_verify(
    url: Annotated[str, typer.Argument(help="Base URL of the service, e.g. http://127.0.0.1:8002")],
    key: Annotated[str, typer.Option(help="Verifier key (`ketenpas log key SERVICE`).")],
    state: Annotated[
        Path | None, typer.Option(help="State file: the last verified checkpoint.")
    ] = None,
    origin: Annotated[str | None, typer.Option(help="Expected origin (default: key name).")] = None,
    database_url: Annotated[
        str | None, typer.Option(help="Also re-hash the stored events in this database.")
    ] = None,
    database_schema: Annotated[str | None, typer.Option(help="PostgreSQL schema.")] = None,
    witness: Annotated[
        list[str] | None,
        typer.Option(help="A trusted witness's cosigner key (`ketenpas witness key`); repeatable."),
    ] = None,
    min_witnesses: Annotated[
        int, typer.Option(help="Valid cosignatures of distinct --witness keys required.", min=0)
    ] = 0,
) -> None:
    """Verify a service's audit log: signature, every tile, the root, and consistency."""
    try:
        witnesses = [parse_cosigner_key(item) for item in witness or []]
    except ValueError as exc:
        typer.echo(f"--witness: {exc}", err=True)
        raise typer.Exit(2) from exc
    try:
        report = asyncio.run(
            verify_log(
                url,
                key,
                origin=origin,
                state_path=state,
                database_url=database_url,
                database_schema=database_schema,
                witnesses=witnesses,
                min_witnesses=min_witnesses,
            )
        )
    except VerificationFailed as failure:
        where = f" (first bad index: {failure.index})" if failure.index is not None else ""
        typer.echo(f"FAILED{where}: {failure.reason}", err=True)
        raise typer.Exit(1) from failure
    since = f", consistent with {report.previous_size}" if report.previous_size is not None else ""
    events = f", {report.events_checked} stored events re-hashed" if database_url else ""
    cosigned = (
        f", cosigned by {', '.join(sorted(report.cosigned_by))}" if report.cosigned_by else ""
    )
    typer.echo(
        f"OK {report.origin}: {report.size} entries, root {report.root_hash.hex()}"
        f"{since}{events}{cosigned}"
    )


CHORES: dict[str, dict[str, Chore]] = {
    "identity": identity_app.CHORES,
    "release": release_app.CHORES,
}


@housekeeping_app.command("purge")
def housekeeping_purge(target: Annotated[Target, typer.Argument()] = Target.all) -> None:
    """Run the services' housekeeping once now: spent gate passes, used client assertions."""

    async def run(settings: ServiceSettings, chores: dict[str, Chore]) -> dict[str, int]:
        engine = create_engine(settings.database_url, schema=settings.database_schema)
        try:
            return await Housekeeper(session_factory(engine), chores, interval=0).run_once()
        finally:
            await engine.dispose()

    for spec in selected(target):
        deleted = asyncio.run(run(spec.settings(), CHORES[spec.name]))
        for chore, rows in deleted.items():
            typer.echo(f"{spec.name}: {chore}: {rows} deleted")


def main() -> None:
    """Entry point of the `ketenpas` command."""
    app()


if __name__ == "__main__":
    main()
