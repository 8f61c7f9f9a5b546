"""Yearly figures port security can publish: one row shape and one CSV for both services.

Each service counts its own (`services.release.figures`, `services.identity.figures`) and
answers `GET /v1/figures/{year}` through `figures_response`: CSV by default (RFC 4180, a
header row, written by the `csv` module so that commas, quotes and line breaks in a cell are
escaped), JSON when the client's `Accept` prefers `application/json`.

The CSV is meant to be opened in a spreadsheet, where a cell that starts with `=`, `+`, `-`,
`@` (or a tab or carriage return) is read as a formula: such a cell is written with a
leading `'` (OWASP, CSV injection), so an alert kind or a terminal id can never run as one.

The alerts are counted here, once, for both: each service keeps its own `alerts` table of
`shared.monitoring`.

A year is the calendar year in UTC: [1 January 00:00 UTC, the next 1 January).
"""

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import astuple, dataclass, fields
from datetime import UTC, datetime
from typing import Any

from fastapi import Response
from pydantic import BaseModel
from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.monitoring.models import Alert

CSV_MEDIA_TYPE = "text/csv"
JSON_MEDIA_TYPE = "application/json"
#: What a spreadsheet reads as the start of a formula (OWASP, CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class FigureRow:
    """One count: which figure, the kind, terminal, status and outcome it is of (empty
    where they do not apply), and how many."""

    figure: str
    kind: str = ""
    terminal: str = ""
    status: str = ""
    outcome: str = ""
    count: int = 0


#: The CSV columns, in order (the JSON rows carry the same names).
COLUMNS: tuple[str, ...] = ("year", *(f.name for f in fields(FigureRow)))


class FigureRowView(BaseModel):
    """One row of the JSON answer."""

    figure: str
    kind: str
    terminal: str
    status: str
    outcome: str
    count: int


class Figures(BaseModel):
    """The JSON answer: the service, the year and its period, and the rows."""

    service: str
    year: int
    since: datetime
    until: datetime
    rows: list[FigureRowView]


def year_bounds(year: int) -> tuple[datetime, datetime]:
    """[1 January of the year, 1 January of the next) in UTC."""
    return datetime(year, 1, 1, tzinfo=UTC), datetime(year + 1, 1, 1, tzinfo=UTC)


def safe_cell(value: object) -> str:
    """A cell a spreadsheet shows as text: a leading formula character gets a `'`."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def csv_text(year: int, rows: Iterable[FigureRow]) -> str:
    """The rows as CSV with a header row; every text cell made safe."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow([year, *(safe_cell(v) for v in astuple(row))])
    return buffer.getvalue()


def prefers_json(accept: str) -> bool:
    """Whether the Accept header ranks `application/json` above `text/csv` (CSV on a tie,
    for `*/*`, and without the header)."""
    ranks = {CSV_MEDIA_TYPE: 0.0, JSON_MEDIA_TYPE: 0.0}
    for part in accept.split(","):
        media, *params = (piece.strip() for piece in part.split(";"))
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        media = media.lower()
        if media in ranks:
            ranks[media] = max(ranks[media], quality)
    return ranks[JSON_MEDIA_TYPE] > ranks[CSV_MEDIA_TYPE]


def figures_response(
    *, service: str, year: int, rows: Sequence[FigureRow], accept: str
) -> Response:
    """The figures as CSV (a download named after the service and year), or as JSON."""
    if prefers_json(accept):
        since, until = year_bounds(year)
        body = Figures(
            service=service,
            year=year,
            since=since,
            until=until,
            rows=[FigureRowView(**row.__dict__) for row in rows],
        )
        return Response(body.model_dump_json(), media_type=JSON_MEDIA_TYPE)
    return Response(
        csv_text(year, rows),
        media_type=f"{CSV_MEDIA_TYPE}; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="ketenpas-{service}-figures-{year}.csv"'
        },
    )


#: The OpenAPI `responses` entry of a figures route's 200.
FIGURES_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The year's figures: CSV by default, JSON on `Accept: application/json`",
        "content": {
            CSV_MEDIA_TYPE: {"schema": {"type": "string"}},
            JSON_MEDIA_TYPE: {"schema": Figures.model_json_schema()},
        },
    }
}


async def alert_figures(
    session: AsyncSession, *, since: datetime, until: datetime
) -> list[FigureRow]:
    """`alerts` rows: alerts raised in [since, until) by kind, status and outcome (the
    `alerts` table of `shared.monitoring`, the same in both services)."""
    kind, status, outcome = col(Alert.kind), col(Alert.status), col(Alert.outcome)
    statement = (
        select(kind, status, outcome, func.count())
        .where(col(Alert.raised_at) >= since, col(Alert.raised_at) < until)
        .group_by(kind, status, outcome)
        .order_by(kind, status, outcome)
    )
    return [
        FigureRow(figure="alerts", kind=k, status=st, outcome=o or "", count=int(n))
        for k, st, o, n in (await session.exec(statement)).all()
    ]
