"""docs/monitoring.md names every rule of both services with the severity and defaults the
code has: the tables are checked against the rule sets, so they cannot drift."""

import re
from pathlib import Path
from zoneinfo import ZoneInfo

from services.identity.monitoring.rules import identity_rules
from services.release.monitoring.rules import release_rules
from shared.monitoring.rules import RuleSet

DOC = Path(__file__).resolve().parents[2] / "docs" / "monitoring.md"


def _section(title: str) -> str:
    text = DOC.read_text(encoding="utf-8")
    return text.split(title, 1)[1].split("\n\n", 2)[1]


def _rows(table: str) -> dict[str, list[str]]:
    rows = {}
    for line in table.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        name = re.fullmatch(r"`([a-z_]+)`", cells[0])
        if name:
            rows[name.group(1)] = cells
    return rows


def _numbers(text: str) -> list[float]:
    return [float(n) for n in re.findall(r"\d+(?:\.\d+)?", text.split("(")[0])]


def _check(rules: RuleSet, rows: dict[str, list[str]], severity: int, defaults: int) -> None:
    assert set(rows) == set(rules.rules)
    for name, rule in rules.rules.items():
        cells = rows[name]
        assert cells[severity] == rule.severity, name
        values = [float(v) for v in rule.defaults.model_dump().values()]
        assert _numbers(cells[defaults]) == values, name


def test_the_release_rules_table_is_the_code() -> None:
    table = _section("Release service (`kind` = rule name unless said):")
    _check(release_rules(ZoneInfo("Europe/Amsterdam")), _rows(table), severity=2, defaults=3)


def test_the_identity_rules_table_is_the_code() -> None:
    rows = _rows(_section("Identity service:"))
    rules = identity_rules()
    _check(rules, rows, severity=3, defaults=4)
    for name, rule in rules.rules.items():
        assert rows[name][1] == f"`{rule.kind}`", name
