"""Signing in on a phone: a wrong code is refused with a clear message, the right one lands
the person on his own page."""

import time

import pyotp
from playwright.sync_api import Page, expect

from tests.web.browser.checks import Watch, check_page, fill_sign_in
from tests.web.browser.harness import TOTP_STEP, Stack

PERSON = "botlek.driver1"


def wrong_code(secret: str, now: float) -> str:
    """A six-digit code that no step the service would accept now gives."""
    totp = pyotp.TOTP(secret)
    accepted = {totp.at(now + shift * TOTP_STEP) for shift in range(-2, 3)}
    return next(code for code in (f"{n:06d}" for n in range(10**6)) if code not in accepted)


def test_a_wrong_code_is_refused_with_a_clear_message(
    page: Page, stack: Stack, watch: Watch
) -> None:
    watch.expect_status(401)
    page.goto(f"{stack.web}/")
    expect(page).to_have_url(f"{stack.web}/signin")
    check_page(page, "signin")

    person = stack.person(PERSON)
    fill_sign_in(page, stack, PERSON, otp=wrong_code(person["totp_secret"], time.time()))

    expect(page).to_have_url(f"{stack.web}/signin")
    expect(page.get_by_role("alert")).to_have_text("The username, password or code is not right.")
    # The form is there again, the username kept, the password and code not.
    expect(page.get_by_label("Username")).to_have_value(PERSON)
    expect(page.get_by_label("Password")).to_have_value("")
    check_page(page, "signin-refused")


def test_the_right_code_lands_the_driver_on_his_jobs(page: Page, stack: Stack) -> None:
    page.goto(f"{stack.web}/signin")
    fill_sign_in(page, stack, PERSON)

    expect(page).to_have_url(f"{stack.web}/driver")
    expect(page.get_by_role("heading", level=1)).to_have_text("My jobs")
    person = stack.person(PERSON)
    expect(page.locator("header .who")).to_contain_text(person["name"])
    check_page(page, "driver-jobs")
