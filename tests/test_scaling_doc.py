"""docs/scaling.md's tables are the arithmetic of its own inputs: the peak-hour and growth
figures are recomputed here from the assumptions (A…) and measurements (M…) the page lists,
and each must equal the computed value to the digits it shows. Change an input and the page
must be recomputed with it. The text is read as text; nothing is started."""

import re
from collections.abc import Callable
from pathlib import Path

import pytest

PAGE = Path(__file__).resolve().parent.parent / "docs" / "scaling.md"
SECONDS_A_YEAR = 365 * 86_400
LOGS = 2  # the identity service's and the release service's audit logs
_NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")


def _text() -> str:
    return PAGE.read_text(encoding="utf-8")


def _rows() -> list[list[str]]:
    """Every table row of the page, as its cells."""
    return [
        [cell.strip() for cell in line.strip().strip("|").split("|")]
        for line in _text().splitlines()
        if line.startswith("|") and not line.startswith("|---")
    ]


def _numbers(cell: str) -> list[str]:
    return _NUMBER.findall(cell)


def _value(written: str) -> float:
    return float(written.replace(",", ""))


def _inputs() -> dict[str, float]:
    """A1…, M1…: the first number of each input row's value cell."""
    found = {}
    for cells in _rows():
        if re.fullmatch(r"[AM]\d+", cells[0]):
            found[cells[0]] = _value(_numbers(cells[2])[0])
    return found


def _shown_as(computed: float, written: str) -> bool:
    """Whether `written` is `computed` rounded to the digits it shows."""
    decimals = len(written.partition(".")[2])
    return abs(_value(written) - computed) <= 0.5 * 10.0**-decimals + 1e-9


def _table_after(heading: str) -> dict[str, list[str]]:
    """The rows of the first table after a line that starts with `heading`, by first cell."""
    lines = _text().split(heading, 1)[1].splitlines()
    start = next(n for n, line in enumerate(lines) if line.startswith("|"))
    rows = {}
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        cells = [cell.strip().strip("*") for cell in line.strip().strip("|").split("|")]
        rows[cells[0]] = cells[1:]
    return rows


def _cell(rows: dict[str, list[str]], label: str, column: int) -> str:
    matches = [cells for name, cells in rows.items() if name.startswith(label)]
    assert len(matches) == 1, f"no single row starting {label!r}"
    return matches[0][column]


class Plan:
    """The page's arithmetic, from its inputs, for one column (a port or ports, a scale)."""

    def __init__(self, i: dict[str, float], teu: float) -> None:
        self.i = i
        self.teu = teu
        self.containers = teu / i["A6"]
        self.pickups = self.containers * i["A7"] * i["A8"]
        self.truck = self.pickups * i["A9"]
        self.peak_hour = self.pickups * i["A10"] / 52 * i["A11"] / 5 * i["A12"]
        self.per_second = self.peak_hour / 3600

    def per_pickup(self, what: str, bound: int) -> float:
        """Bytes per pickup of one kind of row: bound 0 compact, 1 as written."""
        i = self.i
        if what == "release":
            events = i["M6"] * (i[("M7", "M8")[bound]] + i["M9"])
            links = i["M10"] * i[("M11", "M12")[bound]]
            # release, yard entry, gate decision, gate-out, draw: one each a pickup
            singles = ("M13", "M15", "M17", "M19", "M21", "M14", "M16", "M18", "M20", "M22")
            return events + links + sum(i[name] for name in singles[5 * bound : 5 * bound + 5])
        if what == "access":
            return i["A14"] * i[("M23", "M24")[bound]]
        if what == "deliveries":
            return i["A15"] * i[("M25", "M26")[bound]]
        assert what == "identity"
        return i["A16"] * (i[("M27", "M28")[bound]] + i["M29"])

    def gb_a_year(self, what: str, bound: int) -> float:
        """GB a year of one kind of row."""
        if what == "checkpoints":
            return LOGS * SECONDS_A_YEAR * self.i[("M30", "M31")[bound]] / 1e9
        return self.pickups * self.per_pickup(what, bound) / 1e9


KINDS = ("release", "access", "deliveries", "identity", "checkpoints")


def _plans() -> list[Plan]:
    i = _inputs()
    every_port = sum(i[f"A{n}"] for n in range(1, 6))
    return [Plan(i, i["A1"]), Plan(i, every_port), Plan(i, 10 * every_port)]


PEAK_ROWS: dict[str, Callable[[Plan], float]] = {
    "TEU a year": lambda p: p.teu,
    "containers over the quay": lambda p: p.containers,
    "pickups a year": lambda p: p.pickups,
    "of which by truck": lambda p: p.truck,
    "pickups in the busiest hour": lambda p: p.peak_hour,
    "pickups a second": lambda p: p.per_second,
    "gate decisions a second": lambda p: p.per_second * p.i["A13"],
    "release service CPU for the gate": lambda p: p.per_second * p.i["M1"] / 1000,
    "CPU for whole pickups": lambda p: p.per_second * p.i["M2"] / 1000,
    "webhook sends a second": lambda p: p.per_second * p.i["A15"],
    "webhook dispatcher CPU": lambda p: p.per_second * p.i["A15"] * p.i["M3"] / 1000,
    "release audit events a second": lambda p: p.per_second * p.i["M6"],
}


def test_every_input_the_arithmetic_uses_is_listed_once() -> None:
    ids = [cells[0] for cells in _rows() if re.fullmatch(r"[AM]\d+", cells[0])]
    assert len(ids) == len(set(ids))
    needed = {f"A{n}" for n in range(1, 17)} | {f"M{n}" for n in range(1, 32)}
    assert needed <= set(ids)


@pytest.mark.parametrize("label", PEAK_ROWS)
def test_the_peak_hour_table_is_its_inputs_arithmetic(label: str) -> None:
    rows = _table_after("## Peak hour")
    for column, plan in enumerate(_plans()):
        written = _numbers(_cell(rows, label, column))[0]
        computed = PEAK_ROWS[label](plan)
        assert _shown_as(computed, written), f"{label}, column {column}: {written} vs {computed}"


def test_the_bytes_per_pickup_are_their_inputs_arithmetic() -> None:
    rows = _table_after("Per pickup, from the measured bytes")
    plan = _plans()[0]
    for label, what in (
        ("release tables", "release"),
        ("access log", "access"),
        ("webhook deliveries", "deliveries"),
        ("identity audit", "identity"),
    ):
        written = _numbers(_cell(rows, label, 0))
        for bound in (0, 1):
            computed = plan.per_pickup(what, bound)
            assert _shown_as(computed, written[bound]), f"{label}: {written} vs {computed}"


def test_the_growth_table_is_its_inputs_arithmetic() -> None:
    rows = _table_after("| GB a year")
    names = ("release tables", "access log", "webhook", "identity", "checkpoints")
    labels = dict(zip(KINDS, names, strict=True))
    for column, plan in enumerate(_plans()):
        for bound in (0, 1):
            year = {what: plan.gb_a_year(what, bound) for what in KINDS}
            two_years = 2 * sum(year.values())  # the access log kept 24 months: two years' worth
            for what, label in labels.items():
                written = _numbers(_cell(rows, label, column))[bound]
                assert _shown_as(year[what], written), f"{label}, {column}: {written}"
            written = _numbers(_cell(rows, "growth a year", column))[bound]
            assert _shown_as(sum(year.values()), written), f"growth, {column}: {written}"
            written = _numbers(_cell(rows, "size after two years", column))[bound]
            assert _shown_as(two_years, written), f"two years, {column}: {written}"
