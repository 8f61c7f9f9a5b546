"""docs/chain.md: its problem codes are the chain's, its settings and defaults the service's."""

import re
from pathlib import Path

from services.release.settings import ReleaseSettings

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "chain.md").read_text(encoding="utf-8")


def section(title: str) -> str:
    """The text of a `## title` section."""
    return DOC.split(f"## {title}", 1)[1].split("\n## ", 1)[0]


def test_every_documented_problem_code_is_raised_by_the_chain() -> None:
    rows = re.findall(r"^\| (`[a-z_]+`(?:, `[a-z_]+`)*) \|", section("Problem codes"), re.M)
    codes = [code for row in rows for code in re.findall(r"`([a-z_]+)`", row)]
    source = "\n".join(
        path.read_text(encoding="utf-8")
        for path in (ROOT / "services" / "release" / "chain").glob("*.py")
    )
    shared = (ROOT / "shared" / "credentials.py").read_text(encoding="utf-8")
    assert codes
    assert [code for code in codes if f'"{code}"' not in source + shared] == []


def test_every_documented_setting_exists_with_its_default() -> None:
    rows = re.findall(r"^\| `([A-Z_]+)` \| ([0-9]+) \|", section("Settings"), re.M)
    defaults = ReleaseSettings.model_fields
    assert rows
    for name, default in rows:
        field = defaults[name.lower()]
        assert field.default == float(default), name
