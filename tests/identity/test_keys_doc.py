"""docs/keys-and-signing.md: every problem code its table lists is one the services raise."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_documented_problem_code_is_raised_by_the_services() -> None:
    doc = (ROOT / "docs" / "keys-and-signing.md").read_text(encoding="utf-8")
    table = doc.split("## Problem codes", 1)[1]
    codes = re.findall(r"^\| `([a-z_]+)` \|", table, flags=re.MULTILINE)
    source = "\n".join(
        path.read_text(encoding="utf-8") for path in (ROOT / "services").rglob("*.py")
    )
    assert codes
    missing = [code for code in codes if f'"{code}"' not in source]
    assert missing == []
