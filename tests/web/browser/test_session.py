"""The session on a phone: signing out, a form without its CSRF token, a session that idles
out (on a web process whose clock the test moves)."""

from playwright.sync_api import Page, expect

from tests.web.browser.checks import PhoneFactory, Watch, check_page, sign_in
from tests.web.browser.harness import IDLE_SECONDS, Stack, api_call, set_clock

SIGN_OUT_PERSON = "botlek.driver1"
CSRF_PERSON = "maasvlakte.driver2"
IDLE_PERSON = "waalhaven.driver1"
REPLAY_PERSON = "waalhaven.driver2"
ADMIN = "admin.admin"


def test_signing_out_ends_the_session(page: Page, stack: Stack) -> None:
    sign_in(page, stack, SIGN_OUT_PERSON)
    expect(page).to_have_url(f"{stack.web}/driver")

    with page.expect_navigation():
        page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(f"{stack.web}/signin")
    expect(page.get_by_role("status")).to_have_text("You are signed out.")
    expect(page.get_by_role("button", name="Sign out")).to_have_count(0)
    check_page(page, "signed-out")

    # His pages are closed to this phone until he signs in again.
    page.goto(f"{stack.web}/driver")
    expect(page).to_have_url(f"{stack.web}/signin")


def test_a_cookie_copied_before_sign_out_is_signed_out_too(
    new_phone: PhoneFactory, stack: Stack
) -> None:
    page = new_phone()
    sign_in(page, stack, REPLAY_PERSON)
    expect(page).to_have_url(f"{stack.web}/driver")
    copied = page.context.cookies()
    with page.expect_navigation():
        page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(f"{stack.web}/signin")

    thief = new_phone()
    thief.context.add_cookies(copied)  # type: ignore[arg-type]
    thief.goto(f"{stack.web}/driver")
    expect(thief).to_have_url(f"{stack.web}/signin")


def _device_keys(stack: Stack, username: str) -> int:
    person = stack.person(username)
    keys = api_call(
        "get",
        f"{stack.identity}/v1/people/{person['person_id']}/device-keys",
        token=stack.token(ADMIN),
    )
    return len(keys)


def test_a_form_without_its_csrf_token_is_refused_and_nothing_is_done(
    page: Page, stack: Stack, watch: Watch
) -> None:
    watch.expect_status(403)
    sign_in(page, stack, CSRF_PERSON)
    before = _device_keys(stack, CSRF_PERSON)

    page.goto(f"{stack.web}/driver/device")
    page.locator("form.js-device input[name=csrf]").evaluate("input => input.remove()")
    with page.expect_response(lambda r: r.url.endswith("/driver/device")) as answer:
        page.get_by_role("button", name="Register this phone").click()
    assert answer.value.status == 403
    expect(page.get_by_role("alert")).to_have_text(
        "This form was sent without its security token, or from another site. Nothing was "
        "done. Open the page again and send it from there."
    )
    check_page(page, "form-refused")
    assert _device_keys(stack, CSRF_PERSON) == before, "no key was registered"

    # A token that is not the session's is refused too.
    page.goto(f"{stack.web}/driver/device")
    page.locator("form.js-device input[name=csrf]").evaluate(
        "input => input.value = 'x' + input.value"
    )
    with page.expect_response(lambda r: r.url.endswith("/driver/device")) as answer:
        page.get_by_role("button", name="Register this phone").click()
    assert answer.value.status == 403
    assert _device_keys(stack, CSRF_PERSON) == before, "no key was registered"

    # He is still signed in: the refusal changed nothing.
    page.goto(f"{stack.web}/driver")
    expect(page).to_have_url(f"{stack.web}/driver")


def test_a_session_idles_out(new_phone: PhoneFactory, stack: Stack, clocked_web: str) -> None:
    page = new_phone()
    set_clock(stack, 0)
    sign_in(page, stack, IDLE_PERSON, base=clocked_web)
    expect(page).to_have_url(f"{clocked_web}/driver")

    # Half the idle time later the session holds, and that request renews it: later still,
    # longer after the sign-in than the idle time but not after the last request, it holds.
    renewed = IDLE_SECONDS // 2
    for offset in (renewed, renewed + IDLE_SECONDS - 15):
        set_clock(stack, offset)
        page.goto(f"{clocked_web}/driver")
        expect(page).to_have_url(f"{clocked_web}/driver")

    # Idle for longer than that since the last request: signed out, and told so.
    set_clock(stack, renewed + 2 * IDLE_SECONDS)
    page.goto(f"{clocked_web}/driver")
    expect(page).to_have_url(f"{clocked_web}/signin")
    expect(page.get_by_role("status")).to_have_text("Your session has ended. Please sign in again.")
    expect(page.get_by_role("button", name="Sign out")).to_have_count(0)
    check_page(page, "session-expired")
