"""The gate pass when the driver's sign-in is too old to vouch for his second factor: the
page asks for a fresh code instead of failing or signing him out, and a wrong code is
refused there."""

import re

from services.identity.clock import current_time
from tests.identity.factories import totp_now, wrong_code
from tests.web.port import WebPort, csrf_of


class Later:
    """The identity service's time, moved past the second-factor window."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def test_an_old_sign_in_asks_for_a_code_then_shows_the_pass(web_port: WebPort) -> None:
    port = web_port.port
    driver = await port.driver("carrier")
    phone = await web_port.browser()
    await web_port.sign_in(phone, driver)
    assert "<svg" in (await phone.get("/driver/pass")).text  # a recent sign-in vouches

    window = port.identity.state.settings.second_factor_window_seconds
    later = Later(web_port.clock.now + window + 60)
    port.identity.dependency_overrides[current_time] = later
    asked = await phone.get("/driver/pass")
    assert asked.status_code == 401, asked.text
    assert 'action="/driver/pass/code"' in asked.text and "<svg" not in asked.text
    # Still signed in: asked again, the page asks for the code again (no sign-in page).
    assert (await phone.get("/driver/pass")).status_code == 401

    wrong = await phone.post(
        "/driver/pass/code", data={"csrf": csrf_of(asked.text), "otp": wrong_code(later.now)}
    )
    assert wrong.status_code == 401 and "The code is not right" in wrong.text
    right = await phone.post(
        "/driver/pass/code",
        data={"csrf": csrf_of(wrong.text), "otp": totp_now(later.now + 30)},
    )
    assert right.status_code == 200, right.text
    assert re.search(r"<svg", right.text)


async def test_the_code_form_needs_its_csrf_token(web_port: WebPort) -> None:
    port = web_port.port
    driver = await port.driver("carrier")
    phone = await web_port.browser()
    await web_port.sign_in(phone, driver)
    refused = await phone.post("/driver/pass/code", data={"otp": totp_now()})
    assert refused.status_code == 403
