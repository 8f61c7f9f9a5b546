"""Browser tests: Debian's chromium, headless, at a phone's size, against the real stack.

One stack (identity, release and web as real processes, `harness.serving`) and one browser
serve all the tests of this folder, and stop once they are done: package scope, not
session, because between its calls Playwright's sync API marks its event loop as running
in the main thread (`asyncio.run` and pytest-asyncio then refuse to start, seen in a run
with the suite's async tests after these), and the stack's processes should not take CPU
from the rest of the suite; each test gets a fresh browser context (its own cookies and
IndexedDB, so its own phone). Every page a test opens is watched: a console error, an
uncaught script error, a failed request or an HTTP error status fails the test at its end,
unless the test said it expects that status (a refused form, another driver's job).

These tests run in the embedded pass only: the front end holds no data, and the services'
storage on PostgreSQL is what their own tests check in the PostgreSQL pass; the browser
would see the same pages twice (docs/testing.md).
"""

import os
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Page,
    ViewportSize,
    sync_playwright,
)

from tests.web.browser.checks import ARTIFACTS, PhoneFactory, Watch
from tests.web.browser.harness import Stack, serving, start_clocked_web

CHROMIUM = Path("/usr/bin/chromium")
# As root chromium needs --no-sandbox; the machine's network is closed, so nothing may
# reach out on its own (background networking, component updates, sync, QUIC).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-gpu",
    "--disable-quic",
    "--disable-dev-shm-usage",
]
PHONE: ViewportSize = {"width": 390, "height": 844}
# Bounds on each browser action and navigation: generous for a busy 2-core machine (a page
# that calls both services answers in well under a second there), finite for a hung one.
ACTION_MS = 15_000
NAVIGATION_MS = 30_000

HERE = Path(__file__).parent
ON_POSTGRES = os.environ.get("KETENPAS_TEST_BACKEND", "embedded") == "postgres"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Browser tests: embedded pass only; skipped without chromium unless CI=true."""
    reason = None
    if ON_POSTGRES:
        reason = "browser tests run in the embedded pass only (docs/testing.md)"
    elif not CHROMIUM.exists() and os.environ.get("CI", "").lower() != "true":
        reason = f"{CHROMIUM} is missing (.ci/run installs Debian's chromium)"
    if reason is None:
        return
    skip = pytest.mark.skip(reason=reason)
    for item in items:
        if HERE in Path(str(item.path)).parents:
            item.add_marker(skip)


CALL_FAILED = pytest.StashKey[bool]()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Remember whether the test itself failed (`new_phone` then reports, not fails)."""
    report = yield
    if report.when == "call":
        item.stash[CALL_FAILED] = report.failed or hasattr(report, "wasxfail")
    return report


@pytest.fixture(scope="package")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The three services, migrated, seeded with the demo port and serving."""
    with serving(tmp_path_factory.mktemp("web-stack")) as running:
        yield running


@pytest.fixture(scope="package")
def clocked_web(stack: Stack) -> Iterator[str]:
    """A second web process on the same services whose clock the test sets
    (`harness.set_clock`), with the shortest idle time a session may have."""
    with start_clocked_web(stack) as url:
        yield url


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    """Debian's chromium, headless; never a downloaded browser."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: .ci/run installs it (apt-get install chromium)")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        yield launched
        launched.close()


@pytest.fixture
def watch() -> Watch:
    """The test's record of problems on its pages (asserted empty by `new_phone`)."""
    return Watch()


@pytest.fixture
def new_phone(
    browser: Browser, watch: Watch, request: pytest.FixtureRequest
) -> Iterator[PhoneFactory]:
    """Open a fresh phone (browser context at 390x844, its own cookies and storage); at the
    end of the test no page of any phone may have shown a console error or failed request."""
    contexts: list[BrowserContext] = []

    def open_phone(*, locale: str = "en-GB") -> Page:
        context = browser.new_context(
            viewport=PHONE,
            device_scale_factor=2,
            is_mobile=True,
            has_touch=True,
            locale=locale,
        )
        context.set_default_timeout(ACTION_MS)
        context.set_default_navigation_timeout(NAVIGATION_MS)
        watch.attach(context)
        contexts.append(context)
        return context.new_page()

    yield open_phone
    for context in contexts:
        context.close()
    problems = "\n".join(watch.verdict())
    if request.node.stash.get(CALL_FAILED, False):
        # The test failed already: what the pages showed explains it, as a report section.
        request.node.add_report_section("teardown", "pages", problems)
        return
    assert not problems, "the pages were not clean:\n" + problems


@pytest.fixture
def page(new_phone: PhoneFactory) -> Page:
    """One phone's page."""
    return new_phone()
