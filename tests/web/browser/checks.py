"""What every browser test does with a page: screenshot it, let axe judge it, sign in."""

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

# axe-playwright-python ships no type information (no py.typed).
from axe_playwright_python.sync_playwright import Axe  # type: ignore[import-untyped]
from playwright.sync_api import BrowserContext, ConsoleMessage, Page, Request, Response

from tests.web.browser.harness import ROOT, Stack

# Screenshots and axe reports of every page, at phone size (git-ignored; docs/testing.md).
ARTIFACTS = ROOT / "artifacts" / "web"
# axe-core impacts that fail a page; minor and moderate ones are only written to the report.
FAILING_IMPACTS = frozenset({"serious", "critical"})

# Opens a fresh phone (the `new_phone` fixture): `locale` sets its Accept-Language.
PhoneFactory = Callable[..., Page]


@dataclass
class Watch:
    """What went wrong on the test's pages, and which HTTP error statuses it expects."""

    problems: list[str] = field(default_factory=list)
    # Each group of statuses the test expects, and how many responses had one of them.
    expected: dict[frozenset[int], int] = field(default_factory=dict)

    def expect_status(self, *statuses: int) -> None:
        """This test means to meet one of `statuses` (a refusal), at least once."""
        self.expected.setdefault(frozenset(statuses), 0)

    def _expects(self, status: int) -> frozenset[int] | None:
        return next((group for group in self.expected if status in group), None)

    def attach(self, context: BrowserContext) -> None:
        """Record the context's console errors, script errors and failed requests."""
        context.on("console", self._console)
        context.on("weberror", lambda error: self.problems.append(f"script error: {error.error}"))
        context.on("requestfailed", self._failed)
        context.on("response", self._response)

    def _console(self, message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        # Chromium reports every 4xx/5xx document as a console error too; an expected
        # status is judged by its response below, not twice.
        for group in self.expected:
            for status in group:
                if f"the server responded with a status of {status} " in message.text:
                    return
        self.problems.append(
            f"console error on {message.page.url if message.page else '?'}: {message.text}"
        )

    def _failed(self, request: Request) -> None:
        if request.resource_type == "eventsource" and request.failure == "net::ERR_ABORTED":
            return  # a live feed ends when its page is left: that is how it closes
        self.problems.append(f"request failed: {request.method} {request.url}: {request.failure}")

    def _response(self, response: Response) -> None:
        status = response.status
        if status < 400:
            return
        group = self._expects(status)
        if group is not None:
            self.expected[group] += 1
            return
        self.problems.append(f"HTTP {status}: {response.request.method} {response.url}")

    def verdict(self) -> list[str]:
        """Every problem, and every expected status never met."""
        unmet = [
            f"expected an HTTP {' or '.join(map(str, sorted(group)))} that never came"
            for group, seen in self.expected.items()
            if not seen
        ]
        return self.problems + unmet


def axe_check(page: Page, name: str) -> None:
    """axe-core finds no serious or critical violation on the page as it is now; every
    violation found is written to artifacts/web/<name>.axe.json."""
    results = Axe().run(page)
    violations = results.response.get("violations", [])
    (ARTIFACTS / f"{name}.axe.json").write_text(json.dumps(violations, indent=2))
    failing = [v for v in violations if v.get("impact") in FAILING_IMPACTS]
    lines = [
        f"{v['impact']} {v['id']}: {v['help']} at "
        + ", ".join(str(node.get("target")) for node in v.get("nodes", []))
        for v in failing
    ]
    assert not failing, f"axe on {name} ({page.url}):\n" + "\n".join(lines)


def screenshot(page: Page, name: str) -> Path:
    """The whole page at phone width, as artifacts/web/<name>.png."""
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def fits_the_phone(page: Page, name: str) -> None:
    """Nothing on the page is wider than the phone: no sideways scrolling to read it."""
    # The phone's own width, not window.innerWidth: a mobile browser widens its layout
    # viewport to a page that overflows (and zooms out), so innerWidth grows with the fault.
    screen = (page.viewport_size or {"width": 0})["width"]
    widths = {"page": int(page.evaluate("document.documentElement.scrollWidth")), "screen": screen}
    if widths["page"] <= screen:
        return
    wide = page.evaluate(
        """screen => [...document.querySelectorAll('main *, header *')]
            .filter(e => e.getBoundingClientRect().right > screen + 0.5)
            .slice(0, 5)
            .map(e => e.tagName.toLowerCase() + (e.className ? '.' + e.className : ''))""",
        widths["screen"],
    )
    raise AssertionError(
        f"{name} ({page.url}) is {widths['page']} px wide on a {widths['screen']} px screen: "
        + ", ".join(wide)
    )


def check_page(page: Page, name: str, *, too_wide: str | None = None) -> None:
    """A page a person meets: screenshot it, then judge it: it fits the phone's width, and
    axe finds nothing serious. `too_wide` says why a page is known not to fit yet; it must
    then still not fit (strict, as an xfail is), so the exception goes once it does."""
    screenshot(page, name)
    if too_wide is None:
        fits_the_phone(page, name)
    else:
        try:
            fits_the_phone(page, name)
        except AssertionError:
            pass
        else:
            raise AssertionError(f"{name} fits the phone now: drop its exception ({too_wide})")
    axe_check(page, name)


def fill_sign_in(page: Page, stack: Stack, username: str, *, otp: str | None = None) -> None:
    """Fill the sign-in form (a fresh code unless `otp` is given) and send it."""
    person = stack.person(username)
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(person["password"])
    page.get_by_label("Code from your authenticator app").fill(otp or stack.code(username))
    with page.expect_navigation():
        page.locator("form[action='/signin'] button[type=submit]").click()


def sign_in(page: Page, stack: Stack, username: str, *, base: str | None = None) -> None:
    """Open the sign-in page and sign the person in; the test checks where he lands."""
    page.goto(f"{base or stack.web}/signin")
    fill_sign_in(page, stack, username)
