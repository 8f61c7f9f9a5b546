"""What the image installs: the project built as a wheel (not editable) holds only the files
pyproject.toml's package data names, so every non-Python file the code reads must be named
there (the web front end's pages were not, and the image would have served none)."""

import subprocess
import tomllib
from pathlib import Path

from tests.deploy.manifests import ROOT


def _package_data() -> dict[str, list[str]]:
    with (ROOT / "pyproject.toml").open("rb") as file:
        data: dict[str, list[str]] = tomllib.load(file)["tool"]["setuptools"]["package-data"]
    return data


def _covered(path: Path, package_data: dict[str, list[str]]) -> bool:
    """Whether setuptools puts `path` in the wheel: a pattern of the "*" key or of one of
    its enclosing packages, relative to that package's directory, matches it."""
    for package in path.parents:
        if package == ROOT or not (package / "__init__.py").exists():
            continue
        dotted = ".".join(package.relative_to(ROOT).parts)
        patterns = package_data.get("*", []) + package_data.get(dotted, [])
        if any(path in package.glob(pattern) for pattern in patterns):
            return True
    return False


def test_every_file_the_code_reads_goes_into_the_wheel() -> None:
    tracked = subprocess.run(
        ["git", "ls-files", "services", "shared"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    data_files = [ROOT / name for name in tracked if not name.endswith(".py")]
    assert any(f.suffix == ".html" for f in data_files)
    package_data = _package_data()
    assert [f for f in data_files if not _covered(f, package_data)] == []


def test_a_file_outside_the_patterns_is_found() -> None:
    template = ROOT / "services" / "web" / "templates" / "signin.html"
    assert _covered(template, _package_data())
    assert not _covered(template, {"*": ["*.mako"]})
