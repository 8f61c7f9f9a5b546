"""docs/observability.md and docs/configuration.md against the code: the metrics table is the
metrics exported, and the settings documented exist with the defaults given."""

import re
from pathlib import Path

from shared.settings import ServiceSettings
from tests.observability.metrics_helpers import documented_names

ROOT = Path(__file__).resolve().parents[2]


def _section(page: str, title: str) -> str:
    text = (ROOT / "docs" / page).read_text(encoding="utf-8")
    return text.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


def test_the_metrics_table_lists_exactly_the_metrics_exported() -> None:
    rows = re.findall(r"^\| `(ketenpas_[a-z_]+)` \|", _section("observability.md", "Metrics"), re.M)
    assert len(rows) == len(set(rows))
    assert set(rows) == documented_names()


def test_the_observability_settings_documented_exist_with_their_defaults() -> None:
    section = _section("configuration.md", "Observability (both services)")
    rows = re.findall(r"^\| `([A-Z_]+)` \| ([^|]+?) \|", section, flags=re.MULTILINE)
    assert {name for name, _ in rows} == {
        "METRICS_PORT",
        "METRICS_HOST",
        "METRICS_MULTIPROCESS_DIR",
        "OTLP_ENDPOINT",
        "OTLP_SAMPLE_RATIO",
    }
    fields = ServiceSettings.model_fields
    for name, documented in rows:
        default = fields[name.lower()].get_default()
        expected = "" if documented == "empty" else documented.strip("`")
        assert str(default) == expected, name
