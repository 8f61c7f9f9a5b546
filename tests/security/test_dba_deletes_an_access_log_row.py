"""Threat: a database administrator erases the trace of a look-up from the access log.

The bribed insider's look-up is the evidence against him; whoever can write the table could
delete it, change whose it was, or add a look-up to frame someone else. The rows are sealed
into the audit log (`access_log.sealed`: count and digest per range); `ketenpas access verify`
recomputes every seal and names the range that no longer matches, and exits 1.
"""

from datetime import timedelta

import pytest
from typer.testing import Result

from services.cli import app as cli
from shared.models import utcnow
from tests.conftest import Database
from tests.helpers import invoke_cli
from tests.release.access_logs import add_rows, dba, ids, row, seal
from tests.release.port import Port


async def verify(database: Database) -> Result:
    args = ["access", "verify", "--database-url", database.url]
    if database.schema:
        args += ["--database-schema", database.schema]
    return await invoke_cli(cli, args)


@pytest.fixture
async def sealed(port: Port) -> list[int]:
    """Reads in two seals: the first three rows, then two more."""
    await add_rows(port.release, row(), row(), row())
    await seal(port.release)
    await add_rows(port.release, row(), row())
    await seal(port.release)
    return await ids(port.release)


async def test_an_untouched_log_verifies(
    port: Port, sealed: list[int], databases: dict[str, Database]
) -> None:
    result = await verify(databases["release"])
    assert result.exit_code == 0, result.output
    assert "OK" in result.output


async def test_a_deleted_row_names_its_range(
    port: Port, sealed: list[int], databases: dict[str, Database]
) -> None:
    await dba(port.release, "DELETE FROM access_log WHERE id = :id", id=sealed[1])
    result = await verify(databases["release"])
    assert result.exit_code == 1
    assert f"seal_differs: rows {sealed[0]}..{sealed[2]}" in result.output
    assert f"rows {sealed[3]}.." not in result.output


async def test_an_edited_row_names_its_range(
    port: Port, sealed: list[int], databases: dict[str, Database]
) -> None:
    await dba(
        port.release,
        "UPDATE access_log SET party_id = 'EU.EORI.NL999999999' WHERE id = :id",
        id=sealed[4],
    )
    result = await verify(databases["release"])
    assert result.exit_code == 1
    assert f"seal_differs: rows {sealed[3]}..{sealed[4]}" in result.output
    assert "hash differently" in result.output


async def test_a_row_inserted_into_a_sealed_range_names_it(
    port: Port, sealed: list[int], databases: dict[str, Database]
) -> None:
    await add_rows(port.release, row(sealed_in=sealed[0]))
    result = await verify(databases["release"])
    assert result.exit_code == 1
    assert f"seal_differs: rows {sealed[0]}..{sealed[2]}" in result.output


async def test_a_forged_seal_marker_is_named(
    port: Port, sealed: list[int], databases: dict[str, Database]
) -> None:
    await add_rows(port.release, row(sealed_in=10**9))
    result = await verify(databases["release"])
    assert result.exit_code == 1
    assert "seal_unknown" in result.output


async def test_a_whole_sealed_range_deleted_is_named(
    port: Port, sealed: list[int], databases: dict[str, Database]
) -> None:
    await dba(port.release, "DELETE FROM access_log WHERE id >= :id", id=sealed[3])
    result = await verify(databases["release"])
    assert result.exit_code == 1
    assert f"seal_rows_missing: rows {sealed[3]}..{sealed[4]}" in result.output


async def test_a_look_up_inserted_afterwards_to_frame_a_colleague_is_named(
    port: Port, sealed: list[int], databases: dict[str, Database]
) -> None:
    # "He looked it up last week": a row with last week's time, written today.
    await add_rows(port.release, row(utcnow() - timedelta(days=7), actor="person:colleague"))
    result = await verify(databases["release"])
    assert result.exit_code == 1
    assert "row_unsealed" in result.output
    await seal(port.release)  # sealed by the next round, as any row is
    result = await verify(databases["release"])
    assert result.exit_code == 1
    assert "row_sealed_late" in result.output


async def test_a_run_of_the_recent_months_skips_older_ones(
    port: Port, sealed: list[int], databases: dict[str, Database]
) -> None:
    await dba(port.release, "DELETE FROM access_log WHERE id = :id", id=sealed[1])
    database = databases["release"]
    args = ["access", "verify", "--database-url", database.url, "--since-month", "2999-01"]
    if database.schema:
        args += ["--database-schema", database.schema]
    result = await invoke_cli(cli, args)
    assert result.exit_code == 0, result.output
    result = await invoke_cli(cli, [*args[:-2], "--since-month", "2026-13"])
    assert result.exit_code == 2
