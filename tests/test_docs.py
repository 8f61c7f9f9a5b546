"""The README and docs/: what they name exists, and nothing points outside the repository.

A newcomer reads the README and `docs/` first; a link to a page that is gone, a make target
that was renamed or a design that lives outside the repository sends him the wrong way. These
tests read the files as text: no service is started.
"""

import importlib
import re
import typing
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PAGES = [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]

# Markdown links and images: [text](target) with a target that is not a URL.
_LINK = re.compile(r"\]\(([^)\s]+)\)")
# A path into the repository written in backticks, e.g. `services/release/chain/verify.py`.
_CODE_PATH = re.compile(
    r"`((?:services|shared|tests|loadtests|docs|tools|deploy)/[A-Za-z0-9_./-]*)`"
)
# A page of docs/ named in running text, e.g. (docs/faults.md; ...).
_DOCS_PAGE = re.compile(r"(?<![\w/.-])(docs/[A-Za-z0-9_-]+\.md)")
# A page named by its bare file name in backticks inside docs/, e.g. `rate-limits.md`.
_BARE_PAGE = re.compile(r"`([A-Za-z0-9_-]+\.md)`")
_HEADING = re.compile(r"^#{1,6} +(.+?) *$", re.MULTILINE)
_FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)


def _relative(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def _anchor(heading: str) -> str:
    """The anchor a heading gets on GitHub: lower case, punctuation dropped, spaces to -."""
    text = heading.replace("`", "").strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    text = _FENCE.sub("", page.read_text(encoding="utf-8"))
    return {_anchor(heading) for heading in _HEADING.findall(text)}


def _named_paths(page: Path) -> Iterator[tuple[str, Path, str]]:
    """(as written, the file it names, the anchor or "") for everything a page points at."""
    text = page.read_text(encoding="utf-8")
    for target in _LINK.findall(text):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        yield target, (page.parent / path).resolve() if path else page, anchor
    for path in _CODE_PATH.findall(text):
        yield path, ROOT / path, ""
    for path in _DOCS_PAGE.findall(text):
        yield path, ROOT / path, ""
    if page.parent == DOCS:
        for name in _BARE_PAGE.findall(text):
            yield name, DOCS / name, ""


@pytest.mark.parametrize("page", PAGES, ids=_relative)
def test_every_path_and_link_a_page_names_exists(page: Path) -> None:
    missing = [written for written, target, _ in _named_paths(page) if not target.exists()]
    assert missing == [], f"{_relative(page)} names what does not exist: {missing}"


@pytest.mark.parametrize("page", PAGES, ids=_relative)
def test_every_link_to_a_section_finds_its_heading(page: Path) -> None:
    broken = [
        written
        for written, target, anchor in _named_paths(page)
        if anchor and target.suffix == ".md" and target.exists() and anchor not in _anchors(target)
    ]
    assert broken == [], f"{_relative(page)} links to sections that do not exist: {broken}"


def test_the_readme_links_the_design_and_every_page_of_docs() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    linked = {target.partition("#")[0] for target in _LINK.findall(readme)}
    unlinked = sorted(
        _relative(page) for page in DOCS.glob("*.md") if _relative(page) not in linked
    )
    assert unlinked == [], f"the README's reading list misses {unlinked}"


def _project_text_files() -> Iterator[Path]:
    yield ROOT / "README.md"
    for folder in ("docs", "services", "shared", "tests", "loadtests"):
        for path in sorted((ROOT / folder).rglob("*")):
            if path.suffix in {".py", ".md", ".txt", ".toml", ".ini", ".cfg", ".yaml", ".yml"}:
                yield path


def test_nothing_points_at_a_design_outside_the_repository() -> None:
    # Built from parts, so that this file does not match itself.
    outside = re.compile(r"\.\./shared|" + "DESIGN" + r"(\.md|\s*§)")
    this_file = Path(__file__).resolve()
    found = [
        f"{_relative(path)}:{number}"
        for path in _project_text_files()
        if path.resolve() != this_file and "__pycache__" not in path.parts
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if outside.search(line)
    ]
    assert found == [], f"point these at docs/design.md instead: {found}"


def _makefile_targets() -> set[str]:
    text = (ROOT / "Makefile").read_text(encoding="utf-8")
    return set(re.findall(r"^([A-Za-z][\w-]*):(?!=)", text, flags=re.MULTILINE))


def test_every_make_target_the_readme_names_exists() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    named = set(re.findall(r"`make ([A-Za-z][\w-]*)", readme))
    assert {"run", "test", "lint", "format", "faults", "fuzz", "bench"} <= named
    assert {"lock", "upgrade", "clean"} <= named
    assert sorted(named - _makefile_targets()) == []


def _scopes_by_role() -> Mapping[str, frozenset[str]]:
    """The identity service's table of scopes by party role, wherever it lives now."""
    for module in ("services.identity.auth", "services.identity.oauth.service"):
        try:
            table = getattr(importlib.import_module(module), "SCOPES_BY_ROLE", None)
        except ImportError:
            continue
        if table is not None:
            return {str(getattr(role, "value", role)): scopes for role, scopes in table.items()}
    raise AssertionError("no SCOPES_BY_ROLE in the identity service")


def test_the_scopes_table_in_docs_is_the_identity_services() -> None:
    text = (DOCS / "identity.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| ([a-z_]+) \| (`[^|]+`) \|$", text, flags=re.MULTILINE)
    documented = {role: frozenset(re.findall(r"`([^`]+)`", scopes)) for role, scopes in rows}
    assert documented == dict(_scopes_by_role())


def _section(page: str, title: str) -> str:
    text = (DOCS / page).read_text(encoding="utf-8")
    return text.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


def _code_names(text: str) -> set[str]:
    return {name for name in re.findall(r"`([a-z]+(?:_[a-z]+)+)`", text)}


def test_the_chain_codes_named_in_docs_are_the_verifiers() -> None:
    verify = importlib.import_module("services.release.chain.verify")
    codes = set(typing.get_args(verify.ChainErrorCode))
    named = _code_names(_section("release.md", "The chain")) - {"link_replayed"}
    assert named, "release.md names no chain codes"
    assert sorted(named - codes) == []


def test_the_gate_reasons_named_in_docs_are_set_by_the_gate() -> None:
    source = "\n".join(
        path.read_text(encoding="utf-8") for path in (ROOT / "services/release/gate").glob("*.py")
    )
    named = _code_names(_section("release.md", "The gate")) - {"decision_id", "release_id"}
    named -= {"event_id", "gate_pass", "link_code", "picked_up"}
    assert named, "release.md names no gate reasons"
    # A hold's reason is built from its kind: `customs_hold`, `terminal_hold`.
    built = {f"{kind}_hold" for kind in ("customs", "terminal")} if '_hold"' in source else set()
    assert sorted(code for code in named - built if f'"{code}"' not in source) == []
