"""`loadtests/sizing.py`, the figures docs/scaling.md sizes a port with: its arithmetic (bytes
per row less what the empty schema held; compact over every row) and, on PostgreSQL, a run of
two pickups through the real APIs that finds rows in every table a pickup writes and leaves
no schema behind."""

import argparse

import asyncpg
import pytest

from loadtests import sizing
from loadtests.harness import PG_URL
from tests.conftest import ON_POSTGRES


def _sizes(rows: int, table: int, index: int) -> dict[str, sizing.Size]:
    return {name: sizing.Size(rows, table, index) for name in sizing.IDENTITY_GROWING}


def _line(output: str, table: str) -> list[str]:
    return next(line.split() for line in output.splitlines() if line.startswith(table + " "))


def test_bytes_per_row_leave_out_what_the_tables_held_before(
    capsys: pytest.CaptureFixture[str],
) -> None:
    snapshots = sizing.Snapshots(
        empty={"identity": _sizes(0, 8192, 16384)},
        before={"identity": _sizes(100, 40960, 24576)},
        # 200 rows more: 81,920 + 20,480 bytes more as written.
        after={"identity": _sizes(300, 122880, 45056)},
        # Compacted, all 300 rows: 98,304 + 12,288 bytes above the empty tables.
        compact={"identity": _sizes(300, 106496, 28672)},
    )
    sizing.report("identity", snapshots, pickups=50)
    cells = _line(capsys.readouterr().out, "audit_events")
    # rows added, per pickup, B/row written, of it index, B/row compact, of it index
    assert cells[1:] == ["200", "4.00", "512", "102", "369", "41"]


def test_a_pickup_count_below_one_is_refused() -> None:
    with pytest.raises(SystemExit):
        sizing.parse_args(["--pickups", "0"])
    assert sizing.parse_args(["--pickups", "3"]).pickups == 3


@pytest.mark.skipif(not ON_POSTGRES, reason="the sizing measures PostgreSQL's tables")
async def test_two_pickups_fill_every_table_a_pickup_writes(
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = argparse.Namespace(pickups=2, drain_every=1, keep=False)
    schemas_before = await _sizing_schemas()
    await sizing.main_async(args)
    output = capsys.readouterr().out
    release = output.split("release service:", 1)[1].split("identity service:", 1)[0]
    for table in sizing.RELEASE_GROWING:
        rows = int(_line(release, table)[1])
        assert rows > 0, table
    assert int(_line(release, "links")[1]) >= 8  # chains of 4 to 6 links
    assert await _sizing_schemas() == schemas_before  # its own dropped at the end


async def _sizing_schemas() -> set[str]:
    connection = await asyncpg.connect(PG_URL)
    try:
        rows = await connection.fetch(
            "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'kp\\_bench\\_%\\_sizing\\_%'"
        )
    finally:
        await connection.close()
    return {row["nspname"] for row in rows}
