"""What the image installs.

The project built as a wheel (not editable) holds only the files pyproject.toml's package data
names, so every non-Python file the code reads must be named there (the web front end's pages
were not, and the image would have served none). And the image's build stage has no compiler
(a slim base): every locked runtime package must install from a wheel, on the x86_64 and the
arm64 nodes a cluster may have.
"""

import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
from packaging.markers import Marker
from packaging.utils import canonicalize_name, parse_wheel_filename

from tests.deploy.manifests import ROOT

MACHINES = ("x86_64", "aarch64")


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


def _lock() -> dict[str, dict[str, Any]]:
    with (ROOT / "uv.lock").open("rb") as file:
        packages = tomllib.load(file)["package"]
    return {canonicalize_name(p["name"]): p for p in packages}


def _linux(machine: str) -> dict[str, str]:
    """Marker values of CPython 3.11 on Linux (the image's python:3.11-slim)."""
    return {
        "sys_platform": "linux",
        "platform_system": "Linux",
        "platform_machine": machine,
        "os_name": "posix",
        "python_version": "3.11",
        "python_full_version": "3.11.14",
        "implementation_name": "cpython",
        "implementation_version": "3.11.14",
        "platform_python_implementation": "CPython",
        "platform_release": "",
        "platform_version": "",
        "extra": "",
    }


def _runtime_packages(lock: dict[str, dict[str, Any]], machine: str) -> set[str]:
    """The packages `uv sync --no-default-groups` installs with the project: its
    dependencies (no extras of its own) and theirs, with the extras they ask for."""
    seen: set[tuple[str, tuple[str, ...]]] = set()
    todo: list[tuple[str, tuple[str, ...]]] = [("ketenpas", ())]
    while todo:
        name, extras = todo.pop()
        if (name, extras) in seen:
            continue
        seen.add((name, extras))
        package = lock[name]
        wanted = list(package.get("dependencies", []))
        for extra in extras:
            wanted += package.get("optional-dependencies", {}).get(extra, [])
        for dependency in wanted:
            marker = dependency.get("marker")
            if marker and not Marker(marker).evaluate(_linux(machine)):
                continue
            todo.append((canonicalize_name(dependency["name"]), tuple(dependency.get("extra", []))))
    return {name for name, _ in seen} - {"ketenpas"}


def _has_wheel(package: dict[str, Any], machine: str) -> bool:
    for wheel in package.get("wheels", []):
        *_, tags = parse_wheel_filename(wheel["url"].rsplit("/", 1)[-1])
        for tag in tags:
            python = tag.interpreter in ("py3", "cp311") or (
                tag.abi == "abi3"
                and tag.interpreter.startswith("cp3")
                and int(tag.interpreter[3:]) <= 11
            )
            linux = tag.platform == "any" or (
                "linux" in tag.platform and tag.platform.endswith(machine)
            )
            if python and linux:
                return True
    return False


@pytest.mark.parametrize("machine", MACHINES)
def test_every_runtime_package_installs_from_a_wheel(machine: str) -> None:
    lock = _lock()
    runtime = _runtime_packages(lock, machine)
    assert {"fastapi", "asyncpg", "cryptography", "uvloop"} <= runtime
    assert not {"pytest", "mypy", "kubernetes-validate", "setuptools"} & runtime
    assert [name for name in sorted(runtime) if not _has_wheel(lock[name], machine)] == []


def test_a_package_with_only_a_source_distribution_is_found() -> None:
    sdist_only = {"name": "x", "sdist": {"url": "https://example.invalid/x-1.tar.gz"}}
    windows_only = {"wheels": [{"url": "https://example.invalid/x-1-cp311-cp311-win_amd64.whl"}]}
    assert not _has_wheel(sdist_only, "x86_64")
    assert not _has_wheel(windows_only, "x86_64")
