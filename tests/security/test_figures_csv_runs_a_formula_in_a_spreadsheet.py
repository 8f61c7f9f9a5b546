"""Threat: text that reaches the yearly figures (an alert kind, a terminal id) is written so
that the spreadsheet port security opens the CSV in runs it as a formula (CSV injection:
`=HYPERLINK(...)`, `=cmd|...`), or breaks the columns with a comma, quote or line break.

Every text cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage return is written
with a leading `'`; the csv module quotes the rest, so each row reads back as its cells.
"""

import csv
import io

from hypothesis import given
from hypothesis import strategies as st

from shared.db import transaction
from shared.figures import FORMULA_STARTS, FigureRow, csv_text
from shared.models import utcnow
from shared.monitoring.service import raise_alert
from tests.release.port import Port

ATTACKS = ['=cmd|" /C calc"!A0', "+1+1", "-2+3", "@SUM(A1:A2)", '=HYPERLINK("http://x","a,b")']


def _read(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


@given(st.lists(st.text(max_size=40), min_size=1, max_size=5))
def test_no_cell_reads_back_as_a_formula(kinds: list[str]) -> None:
    rows = [FigureRow(figure="alerts", kind=kind, count=1) for kind in kinds]
    table = _read(csv_text(2026, rows))
    assert len(table) == len(kinds) + 1  # no cell broke a row in two
    for kind, read in zip(kinds, table[1:], strict=True):
        assert not any(cell.startswith(FORMULA_STARTS) for cell in read)
        expected = "'" + kind if kind.startswith(FORMULA_STARTS) else kind
        assert read[2] == expected


async def test_crafted_alert_kinds_are_text_in_the_download(port: Port) -> None:
    now = utcnow()
    async with transaction(port.release.state.sessions) as session:
        for kind in ATTACKS:
            await raise_alert(session, kind=kind, severity="low", summary="s", facts={}, now=now)
    response = await port.client.get(f"/v1/figures/{now.year}", headers=port["security"].headers)
    assert response.status_code == 200, response.text
    kinds = {row[2] for row in _read(response.text)[1:] if row[1] == "alerts"}
    assert kinds == {"'" + kind for kind in ATTACKS}
