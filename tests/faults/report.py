"""The fault tests' figures: what was lost (must be nothing) and how long recovery took.

Each scenario appends one JSON line to `var/faults-report.jsonl` (git-ignored), so that a run
leaves its figures to read: `make faults` prints them.
"""

import json
import time
from pathlib import Path
from typing import Any

REPORT = Path("var/faults-report.jsonl")


def report(scenario: str, **figures: Any) -> None:
    """Append the scenario's figures to the report file."""
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    line = {"scenario": scenario, "at": int(time.time()), **figures}
    with REPORT.open("a") as file:
        file.write(json.dumps(line, sort_keys=True) + "\n")
