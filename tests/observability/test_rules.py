"""The alert rules and the dashboard under deploy/observability: they parse, every query
names only metrics the services export, and each alert fires in its situation (promtool)."""

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import promql_parser
import pytest
import yaml

from tests.observability.metrics_helpers import exported_names
from tests.test_docs import _anchors

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy/observability/alerts.yml"
RULE_TESTS = ROOT / "deploy/observability/alerts_test.yml"
DASHBOARD = ROOT / "deploy/observability/dashboard.json"
DOC = ROOT / "docs/observability.md"
# Prometheus's own series, which a rule may use beside ours.
PROMETHEUS_OWN = {"up"}
# The issue's list: what an operator must see at night.
REQUIRED_ALERTS = {
    "KetenpasGateSlow",
    "KetenpasErrorRate",
    "KetenpasSequencerLag",
    "KetenpasIdentityUnreachable",
    "KetenpasLogNotGrowing",
}


def _rules() -> list[dict[str, Any]]:
    document = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    return [rule for group in document["groups"] for rule in group["rules"]]


def _selected(expr: str) -> set[str]:
    """The metric names an expression selects (a selector without one is refused)."""
    names: list[str | None] = []

    def visit(node: object) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            names.append(node.name)

    promql_parser.walk(promql_parser.parse(expr), visit)
    assert None not in names, f"a selector without a metric name in {expr!r}"
    return {name for name in names if name is not None}


def _dashboard_queries() -> Iterator[str]:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            yield target["expr"]


def test_the_rules_cover_what_the_issue_asks_each_with_a_severity_and_a_runbook() -> None:
    rules = _rules()
    names = [rule["alert"] for rule in rules]
    assert len(names) == len(set(names))
    assert set(names) >= REQUIRED_ALERTS
    sections = _anchors(DOC)
    for rule in rules:
        assert rule["labels"]["severity"] in ("warning", "critical"), rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]
        page, _, anchor = rule["annotations"]["runbook"].partition("#")
        assert (ROOT / page) == DOC and anchor in sections, rule["alert"]


def test_every_rule_names_only_exported_metrics() -> None:
    exported = exported_names() | PROMETHEUS_OWN
    for rule in _rules():
        selected = _selected(rule["expr"])
        assert selected, rule["alert"]
        assert sorted(selected - exported) == [], rule["alert"]


def test_the_dashboard_parses_and_queries_only_exported_metrics() -> None:
    exported = exported_names()
    queries = list(_dashboard_queries())
    assert len(queries) >= 10
    shown = set()
    for expr in queries:
        selected = _selected(expr)
        assert selected and sorted(selected - exported) == [], expr
        shown |= selected
    # Every metric exported is on the dashboard somewhere.
    assert (
        sorted(
            {re.sub(r"_(bucket|count|sum)$", "", name) for name in exported}
            - {re.sub(r"_(bucket|count|sum)$", "", name) for name in shown}
        )
        == []
    )
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            metric = re.fullmatch(r"label_values\((\w+), *\w+\)", variable["definition"])
            assert metric is not None and metric.group(1) in exported


def _promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        # CI installs Debian's prometheus package (.ci/run); a developer may lack it.
        assert not os.environ.get("CI"), "promtool is missing in CI"
        pytest.skip("promtool is not installed (Debian package prometheus)")
    return found


def test_promtool_accepts_the_rules() -> None:
    result = subprocess.run(
        [_promtool(), "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_each_alert_fires_in_its_situation_and_not_in_the_healthy_one() -> None:
    result = subprocess.run(
        [_promtool(), "test", "rules", str(RULE_TESTS)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
    tested = set(re.findall(r"alertname: (\w+)", RULE_TESTS.read_text(encoding="utf-8")))
    assert tested == {rule["alert"] for rule in _rules()}
