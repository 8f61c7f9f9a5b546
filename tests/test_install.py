"""Reproducible installs: everything comes from uv.lock, and `make` says so when it cannot.

The Makefile targets are run for real in a scratch copy of the files they read, sharing
the checkout's uv (`.tools`), so that no test touches the checkout's own environment.
"""

import os
import shutil
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
UV = ROOT / ".tools" / "bin" / "uv"
PROJECT = "ketenpas"
ADDED_DEPENDENCY = '    "segno>=1.6",\n    "six>=1.16",\n'

needs_uv = pytest.mark.skipif(not UV.exists(), reason="make has not installed .tools/bin/uv")


def _lock() -> dict[str, dict[str, Any]]:
    """uv.lock's packages by canonical name."""
    with (ROOT / "uv.lock").open("rb") as file:
        lock = tomllib.load(file)
    return {canonicalize_name(str(p["name"])): p for p in lock["package"]}


def _pyproject() -> dict[str, Any]:
    with (ROOT / "pyproject.toml").open("rb") as file:
        return tomllib.load(file)


def _scratch_copy(tmp_path: Path) -> Path:
    """The files the Makefile reads, with their times kept so make rebuilds nothing."""
    for name in ("Makefile", "pyproject.toml", "uv.lock"):
        shutil.copy2(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / "tools", tmp_path / "tools", copy_function=shutil.copy2)
    (tmp_path / ".tools").symlink_to(ROOT / ".tools")
    return tmp_path


def _make(directory: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MAKE", "MFLAGS"))}
    return subprocess.run(
        ["make", "--no-print-directory", "-C", str(directory), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def test_every_locked_package_is_pinned_with_hashes() -> None:
    packages = _lock()
    assert PROJECT in packages
    for name, package in packages.items():
        if name == PROJECT:
            assert package["source"] == {"editable": "."}
            continue
        assert "registry" in package["source"], name
        files = list(package.get("wheels", [])) + ([package["sdist"]] if "sdist" in package else [])
        assert files, f"{name} has no file in the lock"
        for file in files:
            assert str(file["hash"]).startswith("sha256:"), name


def test_the_lock_covers_every_extra_and_the_build_backend() -> None:
    project = _lock()[PROJECT]
    pyproject = _pyproject()
    extras = set(pyproject["project"]["optional-dependencies"])
    assert {"dev", "loadtest"} <= extras
    assert set(project["metadata"]["provides-extras"]) == extras
    build_backend = {
        canonicalize_name(Requirement(r).name) for r in pyproject["build-system"]["requires"]
    }
    assert build_backend <= set(_lock()), "the build backend must be locked too"


def test_this_environment_holds_only_locked_versions() -> None:
    """Nothing in .venv was resolved outside the lock (no stray or hand-installed package)."""
    locked = {name: str(p.get("version")) for name, p in _lock().items()}
    installed = {canonicalize_name(d.metadata["Name"]): d.version for d in metadata.distributions()}
    strays = {n: v for n, v in installed.items() if locked.get(n) != v}
    assert not strays, f"installed but not locked at that version: {strays}"


def test_the_tested_python_is_stated_once_and_used() -> None:
    requires = _pyproject()["project"]["requires-python"]
    assert requires == f"=={sys.version_info.major}.{sys.version_info.minor}.*"
    # ruff and mypy read it from requires-python / the interpreter; no second statement.
    tool = _pyproject()["tool"]
    assert "target-version" not in tool["ruff"]
    assert "python_version" not in tool["mypy"]


def test_uv_itself_is_pinned_with_hashes() -> None:
    lines = (ROOT / "tools" / "uv.txt").read_text().splitlines()
    pins = [line for line in lines if line.startswith("uv==")]
    assert len(pins) == 1
    assert sum("--hash=sha256:" in line for line in lines) >= 1


@needs_uv
def test_lock_check_passes_when_pyproject_and_lock_agree(tmp_path: Path) -> None:
    result = _make(_scratch_copy(tmp_path), "lock-check")
    assert result.returncode == 0, result.stderr


@needs_uv
def test_lock_check_tells_to_run_make_lock_when_a_dependency_is_added(tmp_path: Path) -> None:
    scratch = _scratch_copy(tmp_path)
    pyproject = scratch / "pyproject.toml"
    text = pyproject.read_text()
    assert '    "segno>=1.6",\n' in text
    pyproject.write_text(text.replace('    "segno>=1.6",\n', ADDED_DEPENDENCY))

    result = _make(scratch, "lock-check")

    assert result.returncode != 0
    assert "run 'make lock'" in result.stderr
    assert (scratch / "uv.lock").read_bytes() == (ROOT / "uv.lock").read_bytes()


@needs_uv
def test_make_test_stops_before_testing_when_the_lock_disagrees(tmp_path: Path) -> None:
    scratch = _scratch_copy(tmp_path)
    pyproject = scratch / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('    "segno>=1.6",\n', ADDED_DEPENDENCY))

    result = _make(scratch, "test")  # the scratch copy holds no tests: nothing to recurse into

    assert result.returncode != 0
    assert "run 'make lock'" in result.stderr
    assert "uv sync" not in result.stdout
    assert not (scratch / ".venv").exists()


@pytest.mark.parametrize("found", ["missing", "other-version"])
def test_an_unsupported_python_gets_a_clear_message(tmp_path: Path, found: str) -> None:
    scratch = _scratch_copy(tmp_path)
    python = scratch / "python"
    if found == "other-version":
        # A stand-in interpreter that reports another version and fails the version check.
        python.write_text(
            '#!/bin/sh\ncase "$2" in *exit*) exit 1;; *) echo "Python 3.99.0";; esac\n'
        )
        python.chmod(0o755)

    result = _make(scratch, f"PYTHON={python}", "setup")

    assert result.returncode == 2
    tested = f"{sys.version_info.major}.{sys.version_info.minor}"
    assert f"Ketenpas is tested on Python {tested} " in result.stderr
    assert "Traceback" not in result.stderr
    expected = "Python 3.99.0" if found == "other-version" else "not runnable"
    assert expected in result.stderr
