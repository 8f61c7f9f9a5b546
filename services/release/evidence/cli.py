"""`ketenpas evidence verify FILE`: check a release's evidence bundle offline (docs/evidence.md)."""

from pathlib import Path
from typing import Annotated

import typer

from services.release.evidence.verify import EvidenceFailed, verify_bundle
from shared.tlog.cosignature import parse_cosigner_key

cli = typer.Typer(help="Evidence bundles: one file per release, checked offline.")


def _text_or_file(value: str) -> str:
    """The value itself, or the contents of the file it names."""
    path = Path(value)
    if path.is_file():
        return path.read_text(encoding="utf-8").strip()
    return value.strip()


@cli.command("verify")
def verify(
    file: Annotated[
        Path,
        typer.Argument(
            help="The bundle (GET /v1/releases/{id}/evidence).", exists=True, dir_okay=False
        ),
    ],
    log_key: Annotated[
        str, typer.Option(help="The release log's note verifier key, or a file holding it.")
    ],
    identity_jwks: Annotated[
        Path,
        typer.Option(
            help="The identity service's JWKS (/.well-known/jwks.json), a file.",
            exists=True,
            dir_okay=False,
        ),
    ],
    inspection_key: Annotated[
        list[str] | None,
        typer.Option(help="A trusted inspection VRF public key (base64url) or file; repeatable."),
    ] = None,
    witness: Annotated[
        list[str] | None,
        typer.Option(help="A trusted witness's cosigner key, or a file holding it; repeatable."),
    ] = None,
    min_witnesses: Annotated[
        int, typer.Option(help="Valid cosignatures of distinct --witness keys required.", min=0)
    ] = 0,
) -> None:
    """Check every signature, hash and proof of the bundle against the keys given here."""
    try:
        witnesses = [parse_cosigner_key(_text_or_file(key)) for key in witness or []]
    except ValueError as exc:
        typer.echo(f"--witness: {exc}", err=True)
        raise typer.Exit(2) from exc
    try:
        report = verify_bundle(
            file.read_bytes(),
            log_key=_text_or_file(log_key),
            identity_jwks=identity_jwks.read_bytes(),
            inspection_keys=[_text_or_file(key).encode() for key in inspection_key or []],
            witnesses=witnesses,
            min_witnesses=min_witnesses,
        )
    except EvidenceFailed as failure:
        for check in failure.passed:
            typer.echo(f"ok       {check}")
        typer.echo(f"FAILED   {failure.check}: {failure.reason}", err=True)
        raise typer.Exit(1) from failure
    for check in report.passed:
        typer.echo(f"ok       {check}")
    for check in report.skipped:
        typer.echo(f"skipped  {check}")
    typer.echo("VERIFIED" if not report.skipped else "VERIFIED, with the checks skipped above")
