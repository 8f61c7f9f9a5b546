"""`bench_gate --reference REV`: the revision is named as git names it, its tree is extracted
with nothing left in the repository, a process started as the reference's release service
imports `services` and `shared` from that tree (and the check refuses one that would not), and
the options the mode cannot combine with are refused."""

import subprocess
import sys
from pathlib import Path

import pytest

from loadtests import bench_gate, reference_code

REPO = reference_code.REPO_ROOT


def _git(*arguments: str) -> str:
    return subprocess.run(
        ["git", "-C", str(REPO), *arguments], check=True, capture_output=True, text=True
    ).stdout.strip()


def test_a_revision_is_named_by_its_hash_and_subject() -> None:
    revision = reference_code.resolve("HEAD")
    assert revision.commit == _git("rev-parse", "HEAD")
    assert f"{revision.short} {revision.subject}" == _git("log", "-1", "--format=%h %s", "HEAD")
    assert revision.label == f"ref {revision.short}"


@pytest.mark.parametrize("given", ["no-such-revision-anywhere", "--all", "HEAD~100000"])
def test_what_git_does_not_know_is_refused(given: str) -> None:
    with pytest.raises(ValueError, match=r"not a revision|no commit"):
        reference_code.resolve(given)


def test_the_reference_process_imports_its_own_tree(tmp_path: Path) -> None:
    before = _git("status", "--porcelain", "--ignored")
    worktrees = _git("worktree", "list")
    tree = reference_code.materialise(reference_code.resolve("HEAD"), tmp_path / "reference")
    assert (tree / "services" / "cli.py").is_file()
    assert (tree / "shared" / "settings.py").is_file()
    assert not (tmp_path / "reference.tar").exists()
    # Nothing left in the repository: no file, no worktree.
    assert _git("status", "--porcelain", "--ignored") == before
    assert _git("worktree", "list") == worktrees

    env = reference_code.code_environment(tree, {"PATH": "/usr/bin:/bin"})
    files = reference_code.check_imports_from(tree, env)
    assert set(files) == {"services", "shared", "services.release.app"}
    for file in files.values():
        assert file.is_relative_to(tree.resolve())
    # While this interpreter, elsewhere, imports the checkout's.
    here = subprocess.run(
        [sys.executable, "-c", "import shared; print(shared.__file__)"],
        check=True,
        capture_output=True,
        text=True,
        cwd=tmp_path,
    ).stdout.strip()
    assert not Path(here).resolve().is_relative_to(tree.resolve())


def test_a_tree_without_shared_is_refused(tmp_path: Path) -> None:
    """Without its own `shared` the tree's service would run the checkout's: the check says so."""
    tree = reference_code.materialise(
        reference_code.resolve("HEAD"), tmp_path / "reference", "services"
    )
    env = reference_code.code_environment(tree, {"PATH": "/usr/bin:/bin"})
    with pytest.raises(RuntimeError, match="shared from"):
        reference_code.check_imports_from(tree, env)


def test_pythonpath_puts_the_tree_first() -> None:
    env = reference_code.code_environment(Path("/tree"), {"PYTHONPATH": "/elsewhere", "A": "b"})
    assert env == {"PYTHONPATH": "/tree:/elsewhere", "A": "b"}


@pytest.mark.parametrize(
    "combined", [["--through-proxy"], ["--subscribers", "5"], ["--webhooks-apart"]]
)
def test_reference_runs_only_the_direct_steps(
    combined: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        bench_gate.parse_args(["--reference", "HEAD", *combined])
    assert "--reference runs the plain direct steps only" in capsys.readouterr().err


def test_an_unknown_reference_is_an_argument_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        bench_gate.parse_args(["--reference", "no-such-revision-anywhere"])
    assert "--reference:" in capsys.readouterr().err


def test_the_reference_is_resolved_when_given() -> None:
    assert bench_gate.parse_args([]).reference is None
    revision = bench_gate.parse_args(["--reference", "HEAD"]).reference
    assert isinstance(revision, reference_code.Revision)
    assert revision.commit == _git("rev-parse", "HEAD")


def _step(
    rate: float, *, reference: bool, seconds: float, release_cpu: float, idle: float = 0.1
) -> bench_gate.Step:
    step = bench_gate.Step(rate=rate, lanes=4, prepared=0, prepare_seconds=0.0)
    step.reference = reference
    step.seconds = seconds
    step.cpu = {"release": release_cpu, "idle release": idle}
    step.made.update({"release": 190, "inspect": 10, "draws": 200})
    return step


def test_cpu_per_decision_and_the_comparison(capsys: pytest.CaptureFixture[str]) -> None:
    # 10 s at 80% of a core over 200 decisions: 40 ms a decision; at 40%: 20 ms.
    ref = _step(20, reference=True, seconds=10, release_cpu=0.8)
    now = _step(20, reference=False, seconds=10, release_cpu=0.4)
    assert ref.decisions_made == 200
    assert ref.release_cpu_ms_per_decision == pytest.approx(40.0)
    assert now.release_cpu_ms_per_decision == pytest.approx(20.0)
    # The second step ran today's code first.
    later_now = _step(30, reference=False, seconds=10, release_cpu=0.4, idle=0.2)
    later_ref = _step(30, reference=True, seconds=10, release_cpu=0.8, idle=0.1)
    bench_gate.compare_reference([ref, now, later_now, later_ref], "ref abc1234")
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("  at 20/s, ref abc1234 -> now (ref abc1234 ran first)")
    assert lines[1].startswith("  at 30/s, ref abc1234 -> now (now ran first)")
    assert "release CPU a decision 40.00 -> 20.00 ms" in lines[1]
    # Less each one's idle CPU, measured in the other's step: the reference idled at 20% of
    # a core while today's code ran, today's at 10%: (0.8 - 0.2) and (0.4 - 0.1) s a second.
    assert "idle CPU (20% and 10%, measured in the other's step) 30.00 -> 15.00 ms" in lines[1]


def test_the_maximum_sustainable_rate_is_todays_code() -> None:
    fast = bench_gate.Figures(count=200, per_second=20.0, p50=5.0, p99=20.0)
    ref = _step(20, reference=True, seconds=10, release_cpu=0.8)
    ref.decisions = ref.completions = fast
    now = _step(20, reference=False, seconds=10, release_cpu=0.4)  # no figures: not sustainable
    result = bench_gate.BackendResult(bench_gate.stack_for("postgres", "t", Path("/tmp"), 2))
    result.steps = [ref, now]
    assert ref.sustainable and not now.sustainable
    assert result.max_sustainable is None
    assert result.max_sustainable_of(through_proxy=False, reference=True) == 20
