"""Both languages render: a Dutch phone gets Dutch pages, anyone switches to Dutch and back
on any page, and the choice follows him through sign-in."""

from playwright.sync_api import Page, expect

from tests.web.browser.checks import PhoneFactory, check_page
from tests.web.browser.harness import Stack

PERSON = "waalhaven.driver2"


def test_a_dutch_phone_gets_dutch_pages(new_phone: PhoneFactory, stack: Stack) -> None:
    page = new_phone(locale="nl-NL")
    page.goto(f"{stack.web}/signin")
    expect(page.locator("html")).to_have_attribute("lang", "nl")
    expect(page.get_by_role("heading", level=1)).not_to_have_text("Sign in")
    expect(page.get_by_role("button", name="English")).to_be_visible()
    check_page(page, "signin-nl")


def test_switching_to_dutch_and_back(page: Page, stack: Stack) -> None:
    page.goto(f"{stack.web}/signin")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    with page.expect_navigation():
        page.get_by_role("button", name="Nederlands").click()
    expect(page).to_have_url(f"{stack.web}/signin")
    expect(page.locator("html")).to_have_attribute("lang", "nl")
    expect(page.get_by_role("heading", level=1)).not_to_have_text("Sign in")

    # The choice is the session's: it holds through sign-in, on the driver's own page.
    person = stack.person(PERSON)
    page.locator("#username").fill(PERSON)
    page.locator("#password").fill(person["password"])
    page.locator("#otp").fill(stack.code(PERSON))
    with page.expect_navigation():
        page.locator("form[action='/signin'] button[type=submit]").click()
    expect(page).to_have_url(f"{stack.web}/driver")
    expect(page.locator("html")).to_have_attribute("lang", "nl")
    expect(page.get_by_role("heading", level=1)).not_to_have_text("My jobs")
    check_page(page, "driver-jobs-nl")

    with page.expect_navigation():
        page.get_by_role("button", name="English").click()
    expect(page).to_have_url(f"{stack.web}/driver")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", level=1)).to_have_text("My jobs")
