"""Another revision's code beside today's: a git revision's source tree, and a process that
provably runs it (`bench_gate --reference REV`).

`materialise` writes the revision's tree with `git archive REV | tar -x` into a folder of the
run (nothing is left in the repository: no worktree, no ref). A service runs that code when it
is started with this machine's interpreter (`sys.executable`), `cwd=<tree>` and
`PYTHONPATH=<tree>` (`code_environment`): both come before site-packages on `sys.path`, and
the project's editable install (setuptools' finder, appended to `sys.meta_path`) is asked only
for what the path does not hold. Third-party packages stay this interpreter's, as locked
today. `check_imports_from` proves it, with the same interpreter, environment and folder the
service gets: `services`, `shared` and the release app must be imported from the tree.

Git is asked about this repository only (the folder above `loadtests/`).
"""

import json
import os
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
# Imported by the check: the two packages and the module a release service is made of.
CHECKED_MODULES = ("services", "shared", "services.release.app")
CHECK_TIMEOUT = 60.0
GIT_TIMEOUT = 60.0


@dataclass(frozen=True)
class Revision:
    """A commit of this repository, as given and as git names it."""

    given: str
    commit: str  # full hash
    short: str
    subject: str

    @property
    def label(self) -> str:
        """The rows' label: 'ref <short hash>'."""
        return f"ref {self.short}"


def _git(*arguments: str) -> str:
    return subprocess.run(
        ["git", "-C", str(REPO_ROOT), *arguments],
        check=True,
        capture_output=True,
        text=True,
        timeout=GIT_TIMEOUT,
    ).stdout


def resolve(given: str) -> Revision:
    """The commit `given` names; ValueError when git knows none (or this is no checkout)."""
    if given.startswith("-"):
        raise ValueError(f"{given!r} is not a revision")
    try:
        commit = _git("rev-parse", "--verify", "--quiet", f"{given}^{{commit}}").strip()
        short, _, subject = _git("log", "-1", "--format=%h %s", commit).strip().partition(" ")
    except (OSError, subprocess.SubprocessError) as exc:
        raise ValueError(f"git knows no commit {given!r} in {REPO_ROOT}") from exc
    return Revision(given, commit, short, subject)


def working_tree() -> str:
    """Today's code as the benchmark's own imports see it: HEAD, and whether services/ or
    shared/ differ from it (someone's uncommitted work is then part of what 'now' runs)."""
    try:
        head = _git("log", "-1", "--format=%h", "HEAD").strip()
        changed = _git("status", "--porcelain", "--", "services", "shared").splitlines()
    except (OSError, subprocess.SubprocessError):
        return "this checkout (git does not answer)"
    if not changed:
        return f"{head}, services/ and shared/ as committed"
    return f"{head} with {len(changed)} uncommitted change(s) in services/ and shared/"


def materialise(revision: Revision, folder: Path, *paths: str) -> Path:
    """The revision's tree (or only `paths` of it) extracted into `folder`, which is made."""
    folder.mkdir(parents=True, exist_ok=False)
    archive = folder.with_name(folder.name + ".tar")
    try:
        with archive.open("wb") as output:
            subprocess.run(
                ["git", "-C", str(REPO_ROOT), "archive", revision.commit, *paths],
                check=True,
                stdout=output,
                stderr=subprocess.PIPE,
                timeout=GIT_TIMEOUT,
            )
        with tarfile.open(archive) as tar:
            tar.extractall(folder, filter="data")
    finally:
        archive.unlink(missing_ok=True)
    return folder


def code_environment(tree: Path, env: dict[str, str]) -> dict[str, str]:
    """`env` with the tree first on PYTHONPATH, so that its packages are the ones imported."""
    earlier = env.get("PYTHONPATH")
    return {**env, "PYTHONPATH": os.pathsep.join([str(tree), *([earlier] if earlier else [])])}


def imported_from(tree: Path, env: dict[str, str]) -> dict[str, Path]:
    """Where this interpreter, started as a service from the tree is, finds the checked
    modules (each module's `__file__`)."""
    program = (
        "import importlib, json, sys\n"
        f"names = {list(CHECKED_MODULES)!r}\n"
        "print(json.dumps({n: importlib.import_module(n).__file__ for n in names}))\n"
    )
    answer = subprocess.run(
        [sys.executable, "-c", program],
        cwd=tree,
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=CHECK_TIMEOUT,
    )
    files: dict[str, str] = json.loads(answer.stdout.strip().splitlines()[-1])
    return {name: Path(file).resolve() for name, file in files.items()}


def check_imports_from(tree: Path, env: dict[str, str]) -> dict[str, Path]:
    """`imported_from`, failing with RuntimeError unless every checked module is the tree's."""
    files = imported_from(tree, env)
    root = tree.resolve()
    elsewhere = {name: file for name, file in files.items() if not file.is_relative_to(root)}
    if elsewhere:
        raise RuntimeError(
            f"the reference code would not be imported from {root}: "
            + ", ".join(f"{name} from {file}" for name, file in sorted(elsewhere.items()))
        )
    return files
