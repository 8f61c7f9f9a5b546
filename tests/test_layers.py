"""The import contracts of pyproject.toml ([tool.importlinter]) hold, and they can fail.

Each planted case copies the packages and pyproject.toml to a temporary directory, adds one
import that breaks exactly one contract, and runs the same `lint-imports` there: that
contract, and only that one, must be reported broken.
"""

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
PACKAGES = ("services", "shared", "loadtests")


def contract_names(root: Path) -> dict[str, str]:
    """Contract id -> name, as configured in `root`'s pyproject.toml."""
    config = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    return {contract["id"]: contract["name"] for contract in contracts}


def lint_imports(root: Path) -> tuple[int, str, set[str]]:
    """Run the contracts in `root`: (exit code, output, ids of the broken contracts)."""
    # lint-imports puts its working directory first on sys.path, so the packages of `root`
    # are the ones analysed (not the installed project); no cache is written.
    result = subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = result.stdout + result.stderr
    broken = {
        contract_id
        for contract_id, name in contract_names(root).items()
        if f"{name} BROKEN" in output
    }
    return result.returncode, output, broken


@pytest.fixture
def project_copy(tmp_path: Path) -> Path:
    """The packages and pyproject.toml, copied to a directory of their own."""
    for package in PACKAGES:
        shutil.copytree(
            ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def plant(root: Path, module: str, imported: str) -> None:
    """Add `import <imported>` at the end of `module` (a dotted name) under `root`."""
    path = root.joinpath(*module.split(".")).with_suffix(".py")
    assert path.is_file(), path
    with path.open("a", encoding="utf-8") as source:
        source.write(f"\nimport {imported}  # planted by tests/test_layers.py\n")


def test_the_project_keeps_every_import_contract() -> None:
    code, output, broken = lint_imports(ROOT)
    assert broken == set(), output
    assert code == 0, output
    assert f"Contracts: {len(contract_names(ROOT))} kept, 0 broken." in output, output


def test_a_copy_of_the_project_keeps_them_too(project_copy: Path) -> None:
    # The control for the planted cases below: the copy alone breaks nothing.
    code, output, broken = lint_imports(project_copy)
    assert (code, broken) == (0, set()), output


@pytest.mark.parametrize(
    ("module", "imported", "contract"),
    [
        pytest.param(
            "services.identity.parties.service",
            "services.release",
            "services-independent",
            id="identity-imports-release",
        ),
        pytest.param(
            "services.release.gate.passes",
            "services.identity.people.models",
            "services-independent",
            id="release-imports-identity",
        ),
        pytest.param(
            "shared.eori", "services", "shared-imports-no-service", id="shared-imports-services"
        ),
        pytest.param(
            "services.release.yard.service",
            "loadtests.audit_common",
            "nothing-imports-loadtests",
            id="service-imports-loadtests",
        ),
        pytest.param(
            "services.release.releases.models",
            "services.release.releases.service",
            "release-domain-layers",
            id="release-models-import-their-service",
        ),
        pytest.param(
            "services.identity.keys.models",
            "services.identity.keys.repository",
            "identity-domain-layers",
            id="identity-models-import-their-repository",
        ),
        pytest.param(
            "services.identity.keys.service",
            "services.identity.deps",
            "domain-below-fastapi-adapters",
            id="identity-service-imports-deps",
        ),
    ],
)
def test_a_planted_import_breaks_its_contract(
    project_copy: Path, module: str, imported: str, contract: str
) -> None:
    plant(project_copy, module, imported)
    code, output, broken = lint_imports(project_copy)
    assert code != 0, output
    assert broken == {contract}, output
    # The report names the planted import itself (so the copy, not the installed project,
    # was analysed).
    assert f"{module} -> {imported}" in output.replace("\n", " "), output
