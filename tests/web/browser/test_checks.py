"""The checks themselves can fail: axe refuses a page with a critical violation, a page
wider than the phone is refused, and the watch catches a console error, an uncaught script
error, a failed request and an expected refusal that never came. No stack is needed: the
pages are written here."""

import pytest
from playwright.sync_api import Browser

from tests.web.browser.checks import Watch, axe_check, fits_the_phone
from tests.web.browser.harness import free_port

UNLABELLED = (
    '<!doctype html><html lang="en"><head><title>t</title></head><body><main>'
    "<h1>A form</h1><input type=text></main></body></html>"
)


def test_axe_check_refuses_an_unlabelled_field(browser: Browser) -> None:
    context = browser.new_context()
    try:
        page = context.new_page()
        page.set_content(UNLABELLED)
        with pytest.raises(AssertionError, match="critical label"):
            axe_check(page, "harness-unlabelled")
    finally:
        context.close()


def test_the_watch_sees_what_goes_wrong_on_a_page(browser: Browser) -> None:
    watch = Watch()
    watch.expect_status(403)
    context = browser.new_context()
    try:
        watch.attach(context)
        page = context.new_page()
        # Each wait ends on the context's event, which the watch heard first.
        with context.expect_event("weberror"):
            page.set_content("<script>throw new Error('thrown')</script>")
        with context.expect_console_message():
            page.evaluate("console.error('logged')")
        closed = f"http://127.0.0.1:{free_port()}/nothing"
        with context.expect_event("requestfailed"):
            page.evaluate("url => fetch(url).catch(() => null)", closed)
    finally:
        context.close()
    verdict = "\n".join(watch.verdict())
    assert "console error" in verdict and "logged" in verdict
    assert "script error" in verdict and "thrown" in verdict
    assert "request failed" in verdict and closed in verdict
    assert "expected an HTTP 403 that never came" in verdict


def test_a_page_wider_than_the_phone_is_refused(browser: Browser) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    try:
        page = context.new_page()
        page.set_content(
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<main><table><tr><td>{'EUEORINL100000001' * 4}</td>"
            "<td>more</td></tr></table></main>"
        )
        with pytest.raises(AssertionError, match="px wide on a 390 px screen: table"):
            fits_the_phone(page, "harness-wide")
    finally:
        context.close()
