"""Every role's pages, in English and in Dutch: each one clean (no console error, no failed
request), passing axe, and screenshotted at phone size (artifacts/web/)."""

import pytest
from playwright.sync_api import Page, expect

from tests.web.browser.checks import check_page, sign_in
from tests.web.browser.harness import Stack, assign_to_driver, container_of

RELEASE, CONTAINER = "{release}", "{container}"
CARRIER = "maasvlakte.dispatch"

# Who signs in, where he lands, and the pages of his work ({release}, {container}: a
# release the carrier holds and has assigned to one of its drivers, and its container).
ROLES = {
    "dispatcher": (
        "maasvlakte.dispatch",
        "/dispatch",
        ["/dispatch", f"/dispatch/releases/{RELEASE}"],
    ),
    "gate": ("ect.gate", "/gate", ["/gate"]),
    "security": (
        "security.officer",
        "/security",
        [
            "/security",
            f"/security?container={CONTAINER}",
            "/security/log",
            "/security/inspections",
            "/security/alerts",
            f"/security/who-knew?container={CONTAINER}",
            "/exposure",
            "/security/figures",
        ],
    ),
}

# Pages known not to fit a phone yet, and why (each must still not fit: see check_page).
TOO_WIDE: dict[str, str] = {}


@pytest.mark.parametrize("role", list(ROLES))
def test_each_page_of_a_role_in_both_languages(page: Page, stack: Stack, role: str) -> None:
    username, home, paths = ROLES[role]
    release_id = assign_to_driver(stack, carrier=CARRIER, driver="maasvlakte.driver2")
    container = container_of(stack, release_id, CARRIER)
    sign_in(page, stack, username)
    expect(page).to_have_url(f"{stack.web}{home}")

    for language in ("en", "nl"):
        if language == "nl":
            with page.expect_navigation():
                page.get_by_role("button", name="Nederlands").click()
        for path in paths:
            page.goto(stack.web + path.replace(RELEASE, release_id).replace(CONTAINER, container))
            expect(page.locator("html")).to_have_attribute("lang", language)
            expect(page.get_by_role("heading", level=1)).to_be_visible()
            if CONTAINER in path:
                expect(page.locator("main")).to_contain_text(container)
            name = path.strip("/").replace("/", "-").replace(RELEASE, "release")
            name = name.replace(f"?container={CONTAINER}", "-container")
            name = f"{name}-{language}"
            check_page(page, name, too_wide=TOO_WIDE.get(name))
